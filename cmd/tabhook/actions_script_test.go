package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tabhook/tabhook/internal/fakes/destfake"
	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/render"
)

// scriptSigningSecret is the Slack app's signing secret the scripts' relays verify
// clicks with ($WORK/signing-secret).
const scriptSigningSecret = "5c7e1a9b3d2f4e6a8b0c1d2e3f4a5b6c"

// click USER refresh|mute|unmute|ack [signed|forged|stale|replay]: USER clicks the
// button of the newest message that has it; Slack's request goes to
// $TABHOOK_PUBLIC_URL/slack/actions, signed with $WORK/signing-secret (forged: with
// another secret; stale: 6 minutes old; replay: sent twice). Checks the status: 200,
// or 401 for forged and stale (and a replay's second sending).
func cmdClick(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: click USER refresh|mute|unmute|ack [signed|forged|stale|replay]")
	}
	action := map[string]string{"refresh": render.ActionRefresh, "mute": render.ActionMute, "unmute": render.ActionUnmute, "ack": render.ActionAck}[args[1]]
	how := "signed"
	if len(args) > 2 {
		how = args[2]
	}
	fake := slackFake(ts)
	msg, ok := fake.WithButton(action)
	if !ok {
		ts.Fatalf("click: no message has a %s button", args[1])
	}
	secret, at := scriptSigningSecret, time.Time{}
	switch how {
	case "forged":
		secret = "not-the-signing-secret-0000000000"
	case "stale":
		at = time.Now().Add(-6 * time.Minute)
	}
	target := strings.TrimSuffix(ts.Getenv("TABHOOK_PUBLIC_URL"), "/") + "/slack/actions"
	req, err := fake.Request(target, secret, slackfake.Click{User: args[0], Channel: msg.Channel, TS: msg.TS, ActionID: action, At: at})
	if err != nil {
		ts.Fatalf("click: %v", err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	send := func(r *http.Request) int {
		resp, err := client.Do(r)
		if err != nil {
			ts.Fatalf("click: %v", err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	want := http.StatusOK
	if how == "forged" || how == "stale" {
		want = http.StatusUnauthorized
	}
	again := req.Clone(context.Background())
	again.Body, _ = req.GetBody()
	if got := send(req); got != want {
		ts.Fatalf("click %s %s (%s): answered %d, want %d", args[0], args[1], how, got, want)
	}
	if how == "replay" {
		if got := send(again); got != http.StatusUnauthorized {
			ts.Fatalf("the replayed click was answered %d, want 401", got)
		}
	}
}

// eventually waits up to 10 s for cond, failing with what it last said.
func eventually(ts *testscript.TestScript, what string, cond func() (bool, string)) {
	waitUntil(ts, what, 10*time.Second, cond)
}

// waitUntil waits up to limit for cond, failing with what it last said.
func waitUntil(ts *testscript.TestScript, what string, limit time.Duration, cond func() (bool, string)) {
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s: still %s after %s", what, state, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slacknote TEXT: a message says TEXT (in its blocks, as Slack shows it), waited for;
// ! slacknote TEXT: none does.
func cmdSlackNote(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: slacknote TEXT")
	}
	has := func() (bool, string) {
		for _, m := range slackFake(ts).Messages() {
			if strings.Contains(m.Shown(), args[0]) {
				return true, "said"
			}
		}
		return false, "not said"
	}
	if neg {
		if ok, _ := has(); ok {
			ts.Fatalf("a message says %q", args[0])
		}
		return
	}
	eventually(ts, "slacknote "+args[0], has)
}

// ephemeral N TEXT: N ephemeral answers went to clickers, the last saying TEXT.
func cmdEphemeral(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: ephemeral N TEXT")
	}
	eventually(ts, "ephemeral answers", func() (bool, string) {
		rs := slackFake(ts).Responses()
		ok := fmt.Sprint(len(rs)) == args[0] && (len(rs) == 0 || (rs[len(rs)-1].Ephemeral && strings.Contains(rs[len(rs)-1].Text, args[1])))
		return ok, fmt.Sprintf("%+v", rs)
	})
}

// simrefreshes LUID N: N refreshes of the item were queued on request, waited for.
func cmdSimRefreshes(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: simrefreshes LUID N")
	}
	eventually(ts, "refreshes of "+args[0], func() (bool, string) {
		n := sim(ts).Refreshes(args[0])
		return strconv.Itoa(n) == args[1], strconv.Itoa(n)
	})
}

// pdacked KEY: PagerDuty's incident of the dedup key was acknowledged, waited for.
func cmdPDAcked(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: pdacked DEDUP_KEY")
	}
	pd := ts.Value(receiversKey{}).(map[string]*destfake.Receiver)["pagerduty"]
	eventually(ts, "acknowledged "+args[0], func() (bool, string) {
		return pd.Acknowledged(args[0]), "not acknowledged"
	})
}
