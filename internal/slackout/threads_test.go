package slackout

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/render"
)

func TestReplyIsFoundInItsThread(t *testing.T) {
	f, c := setup(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Minute)
	root, err := c.Post(ctx, "C0GENERAL", msg, "id-root")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.Reply(ctx, "C0GENERAL", root, msg, "id-reply")
	if err != nil || len(f.Thread("C0GENERAL", root)) != 1 {
		t.Fatalf("reply: %v, thread %+v", err, f.Thread("C0GENERAL", root))
	}
	// The channel's history does not show replies: only the thread finds one.
	if _, found, _ := c.FindPosted(ctx, "C0GENERAL", "id-reply", start); found {
		t.Fatal("history showed a thread reply")
	}
	got, found, err := c.FindReply(ctx, "C0GENERAL", root, "id-reply", start)
	if err != nil || !found || got != ts {
		t.Fatalf("FindReply = %q %v %v, want %q", got, found, err, ts)
	}
	if _, found, _ := c.FindReply(ctx, "C0GENERAL", root, "id-root", start); found {
		t.Fatal("the thread's parent was taken for a reply")
	}
}

func TestUpdateRewritesOwnMessage(t *testing.T) {
	f, c := setup(t)
	ctx := context.Background()
	ts, err := c.Post(ctx, "C0GENERAL", msg, "id-1")
	if err != nil {
		t.Fatal(err)
	}
	upd := render.Message{Text: "Refresh succeeded", Blocks: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "done", false, false), nil, nil)}}
	if err := c.Update(ctx, "C0GENERAL", ts, upd); err != nil {
		t.Fatal(err)
	}
	m := f.Messages()[0]
	if m.Text != "Refresh succeeded" || m.Edits != 1 {
		t.Fatalf("after update: %+v", m)
	}
	if err := c.Update(ctx, "C0GENERAL", "1.999", upd); Code(err) != "message_not_found" || !IsPermanent(err) {
		t.Fatalf("unknown message: %v", err)
	}
}

func TestUserByEmail(t *testing.T) {
	f, c := setup(t)
	ctx := context.Background()
	f.AddUser("bob@example.com", "U0BOB")
	if id, err := c.UserByEmail(ctx, "Bob@Example.com"); err != nil || id != "U0BOB" {
		t.Fatalf("known user: %q %v", id, err)
	}
	for range 3 {
		if _, err := c.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNoUser) {
			t.Fatalf("unknown user: %v", err)
		}
	}
	if n := f.CountCalls("users.lookupByEmail", 200); n != 2 {
		t.Fatalf("%d lookups: answers (a miss too) are remembered", n)
	}
	f.SetScopes("chat:write")
	if _, err := c.UserByEmail(ctx, "carol@example.com"); Code(err) != "missing_scope" {
		t.Fatalf("without users:read.email: %v", err)
	}
}
