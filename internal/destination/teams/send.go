package teams

import (
	"context"
	"net/http"

	"golang.org/x/time/rate"

	"github.com/tabhook/tabhook/internal/destination"
)

// Sender posts to one Workflows webhook (destination.Sender).
type Sender struct {
	name string
	url  string // secret: its query carries the signature
	hc   *http.Client
	pace *rate.Limiter
}

// New builds a sender; hc nil uses a client with a 15 s timeout. It never follows a
// redirect: an answer is the workflow's or a failure.
func New(name, url string, hc *http.Client) *Sender {
	// Workflows throttle busy flows; a few posts a second is what a channel can read.
	return &Sender{name: name, url: url, hc: destination.Client(hc), pace: rate.NewLimiter(2, 4)}
}

// Digests: several events due together are one card, as in Slack.
func (s *Sender) Digests() bool { return true }

// Send posts one card for the events. 202 (the workflow accepted it; any 2xx) is
// success.
func (s *Sender) Send(ctx context.Context, events []destination.Event) error {
	body, err := Payload(events)
	if err != nil {
		return &destination.Error{Destination: s.name, Permanent: true, Reason: err.Error()}
	}
	if err := s.pace.Wait(ctx); err != nil {
		return destination.FromNetwork(s.name, err)
	}
	return destination.Post(ctx, s.hc, s.name, s.url, body, nil)
}
