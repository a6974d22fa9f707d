package slackout

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/render"
)

const token = "xoxb-test-token-1234"

func setup(t *testing.T) (*slackfake.Fake, *Client) {
	t.Helper()
	f := slackfake.New(token).Start()
	t.Cleanup(f.Close)
	return f, New(Options{Token: token, APIURL: f.APIURL(), PerChannel: rate.Inf})
}

var msg = render.Message{Text: "Workbook updated: X", Blocks: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*X*", false, false), nil, nil)}}

func TestAuthTest(t *testing.T) {
	f, c := setup(t)
	a, err := c.AuthTest(context.Background())
	if err != nil || a.BotID != "B0BOT" || !strings.Contains(strings.Join(a.Scopes, " "), "files:write") {
		t.Fatalf("auth = %+v, %v", a, err)
	}
	bad := New(Options{Token: "xoxb-wrong-secret", APIURL: f.APIURL()})
	_, err = bad.AuthTest(context.Background())
	var se *Error
	if !errors.As(err, &se) || se.Code != "invalid_auth" || !se.CredentialsRejected() || !se.Permanent {
		t.Fatalf("wrong token: %#v", err)
	}
	if strings.Contains(err.Error(), "xoxb-wrong-secret") {
		t.Error("error shows the token")
	}
	f.RevokeToken()
	if _, err := c.AuthTest(context.Background()); Code(err) != "token_revoked" {
		t.Fatalf("revoked: %v", err)
	}
}

func TestChannelIDPagesAndCaches(t *testing.T) {
	f, c := setup(t)
	f.SetPageSize(1)
	f.AddChannel(slackfake.Channel{ID: "C0OPS", Name: "ops", IsMember: true})
	f.AddChannel(slackfake.Channel{ID: "G0SECRET", Name: "secret", IsPrivate: true, IsMember: true})
	ctx := context.Background()
	for in, want := range map[string]string{"#ops": "C0OPS", "ops": "C0OPS", "secret": "G0SECRET", "C0GENERAL": "C0GENERAL"} {
		if got, err := c.ChannelID(ctx, in); err != nil || got != want {
			t.Errorf("ChannelID(%q) = %q, %v", in, got, err)
		}
	}
	before := f.CountCalls("conversations.list", 0)
	if _, err := c.ChannelID(ctx, "#ops"); err != nil || f.CountCalls("conversations.list", 0) != before {
		t.Error("a resolved name was looked up again")
	}
	if _, err := c.ChannelID(ctx, "#nope"); !IsPermanent(err) || Code(err) != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestPostFindAndUpload(t *testing.T) {
	f, c := setup(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Minute)
	ts, err := c.Post(ctx, "C0ALERTS", msg, "42")
	if err != nil || ts == "" {
		t.Fatalf("post: %q %v", ts, err)
	}
	got, found, err := c.FindPosted(ctx, "C0ALERTS", "42", start)
	if err != nil || !found || got != ts {
		t.Fatalf("find: %q %v %v", got, found, err)
	}
	if _, found, _ := c.FindPosted(ctx, "C0ALERTS", "43", start); found {
		t.Error("found a message for another event")
	}
	if _, found, _ := c.FindPosted(ctx, "C0ALERTS", "4", start); found {
		t.Error("an identity matched part of another")
	}
	png := []byte("\x89PNG fake")
	if err := c.Upload(ctx, "C0ALERTS", ts, "preview.png", "Preview", png); err != nil {
		t.Fatal(err)
	}
	files := f.Files()
	if len(files) != 1 || files[0].ThreadTS != ts || files[0].Channel != "C0ALERTS" || string(files[0].Bytes) != string(png) {
		t.Fatalf("files = %+v", files)
	}
	m := f.Messages()[0]
	var blocks []map[string]any
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil || len(blocks) != 1 || m.Text != msg.Text {
		t.Fatalf("message = %+v", m)
	}
}

func TestClassification(t *testing.T) {
	f, c := setup(t)
	ctx := context.Background()
	f.RateLimit("chat.postMessage", 1, 7)
	_, err := c.Post(ctx, "C0ALERTS", msg, "1")
	if RetryAfter(err) != 7*time.Second || IsPermanent(err) {
		t.Fatalf("429: %v", err)
	}
	c = New(Options{Token: token, APIURL: f.APIURL(), PerChannel: rate.Inf}) // not held by the Retry-After
	f.SetOutage(true)
	_, err = c.Post(ctx, "C0ALERTS", msg, "1")
	if IsPermanent(err) || Code(err) != "http_503" {
		t.Fatalf("outage: %v", err)
	}
	f.SetOutage(false)
	f.FailChannel("C0ALERTS", "not_in_channel")
	_, err = c.Post(ctx, "C0ALERTS", msg, "1")
	if !IsPermanent(err) || !strings.Contains(err.Error(), "/invite") {
		t.Fatalf("not_in_channel: %v", err)
	}
	f.FailChannel("C0ALERTS", "internal_error")
	if _, err = c.Post(ctx, "C0ALERTS", msg, "1"); IsPermanent(err) {
		t.Fatalf("internal_error is transient: %v", err)
	}
	if _, err = c.Post(ctx, "C0NOPE", msg, "1"); Code(err) != "channel_not_found" || !IsPermanent(err) {
		t.Fatalf("unknown channel: %v", err)
	}
	dead := New(Options{Token: token, APIURL: "http://127.0.0.1:1/api/"})
	if _, err = dead.Post(ctx, "C0ALERTS", msg, "1"); Code(err) != "network" || IsPermanent(err) {
		t.Fatalf("network: %v", err)
	}
}

// TestNoEffect: only an answer that says no, or a request that never left, means the
// post certainly did not happen; a 5xx or a lost answer may hide a posted message.
func TestNoEffect(t *testing.T) {
	f, _ := setup(t)
	ctx := context.Background()
	fresh := func() *Client { return New(Options{Token: token, APIURL: f.APIURL(), PerChannel: rate.Inf}) }
	cases := []struct {
		name     string
		arrange  func()
		client   func() *Client
		noEffect bool
	}{
		{"429", func() { f.RateLimit("chat.postMessage", 1, 1) }, fresh, true},
		{"ok:false", func() { f.FailChannel("C0ALERTS", "internal_error") }, fresh, true},
		{"refused connection", func() {}, func() *Client { return New(Options{Token: token, APIURL: "http://127.0.0.1:1/api/"}) }, true},
		{"503", func() { f.SetOutage(true) }, fresh, false},
		{"answer lost", func() { f.DropPostResponses(1) }, fresh, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.arrange()
			defer func() { f.SetOutage(false); f.FailChannel("C0ALERTS", "") }()
			_, err := tc.client().Post(ctx, "C0ALERTS", msg, "1")
			if err == nil || NoEffect(err) != tc.noEffect {
				t.Fatalf("NoEffect(%v) = %v, want %v", err, NoEffect(err), tc.noEffect)
			}
		})
	}
}

// TestFindPostedOnlyOwnMessages: another app's message carrying the same metadata is
// not taken for this bot's.
func TestFindPostedOnlyOwnMessages(t *testing.T) {
	f, c := setup(t)
	ctx := context.Background()
	f.AddToken("xoxb-other-app", slackfake.Bot{BotID: "B0OTHER", UserID: "U0OTHER"})
	other := New(Options{Token: "xoxb-other-app", APIURL: f.APIURL(), PerChannel: rate.Inf})
	if _, err := other.Post(ctx, "C0ALERTS", msg, "abc"); err != nil {
		t.Fatal(err)
	}
	if _, found, err := c.FindPosted(ctx, "C0ALERTS", "abc", time.Now().Add(-time.Minute)); err != nil || found {
		t.Fatalf("found another bot's message: %v %v", found, err)
	}
	ts, _ := c.Post(ctx, "C0ALERTS", msg, "abc")
	if got, found, err := c.FindPosted(ctx, "C0ALERTS", "abc", time.Now().Add(-time.Minute)); err != nil || !found || got != ts {
		t.Fatalf("own message: %q %v %v", got, found, err)
	}
}

func TestRetryAfterHoldsTheChannel(t *testing.T) {
	f, c := setup(t)
	f.RateLimit("chat.postMessage", 1, 1)
	ctx := context.Background()
	_, _ = c.Post(ctx, "C0ALERTS", msg, "1")
	_, err := c.Post(ctx, "C0ALERTS", msg, "2")
	if !IsHeld(err) || !NoEffect(err) || RetryAfter(err) <= 0 || time.Until(c.HeldUntil("C0ALERTS")) <= 0 {
		t.Fatalf("a post during Retry-After: %v", err)
	}
	if _, err := c.Post(ctx, "C0GENERAL", msg, "3"); err != nil {
		t.Fatalf("another channel was blocked: %v", err)
	}
	if n := len(f.Messages()); n != 1 {
		t.Fatalf("%d messages", n)
	}
}
