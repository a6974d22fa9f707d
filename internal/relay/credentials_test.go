package relay

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/slackout"
)

// TestStaleRefusalIgnored: a refusal answering a request begun before a reload
// replaced the token is the old token's — no pause; one begun after it pauses.
func TestStaleRefusalIgnored(t *testing.T) {
	r := &relay{log: slog.New(slog.DiscardHandler), health: NewHealth(), paused: map[string]bool{},
		rechecks: map[string]chan struct{}{"slack": make(chan struct{}, 1), "tableau": make(chan struct{}, 1)}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the recheck a pause starts ends at once
	refused := &slackout.Error{Code: "invalid_auth", Permanent: true}
	began := time.Now()
	r.renew("slack")
	r.credentialRefused(ctx, refused, began)
	if r.isPaused("slack") {
		t.Fatal("a refusal of a request sent with the replaced token paused delivery")
	}
	r.credentialRefused(ctx, refused, time.Now())
	if !r.isPaused("slack") {
		t.Fatal("a refusal of the current token did not pause delivery")
	}
	r.bg.Wait()
}
