// Package stdwebhook sends each event, enriched, as a JSON webhook signed the Standard
// Webhooks way (https://www.standardwebhooks.com): headers webhook-id (the same on
// every retry of an event, for receivers to deduplicate), webhook-timestamp and
// webhook-signature, "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" under
// the whsec_ secret. Signing is the specification's reference Go library's
// (github.com/standard-webhooks/standard-webhooks/libraries/go), the same a receiver
// verifies with.
package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/words"
)

// Body is the JSON a receiver gets (docs/webhook-body.md). Its names are a promise:
// fields are added, never renamed.
type Body struct {
	Type      string `json:"type"`      // the event's API name, e.g. WorkbookRefreshFailed
	Timestamp string `json:"timestamp"` // when it happened (RFC 3339)
	Data      Data   `json:"data"`
}

// Data is the event, as Tableau sent it and as tabhook learned it.
type Data struct {
	EventID    string          `json:"event_id"` // the webhook-id without its prefix
	Payload    payload.Payload `json:"payload"`  // Tableau's delivery, unchanged
	Enrichment Enrichment      `json:"enrichment"`
}

// Enrichment is what tabhook learned from the REST API; empty fields are unknown.
type Enrichment struct {
	Kind            string   `json:"kind,omitempty"`
	Name            string   `json:"name,omitempty"`
	Site            string   `json:"site,omitempty"`
	Project         string   `json:"project,omitempty"`
	Owner           string   `json:"owner,omitempty"`
	OwnerEmail      string   `json:"owner_email,omitempty"`
	URL             string   `json:"url,omitempty"`
	Tags            []string `json:"tags,omitempty"`
	SiteRole        string   `json:"site_role,omitempty"`
	Failure         *Failure `json:"failure,omitempty"`
	FailuresInARow  int      `json:"failures_in_a_row,omitempty"`
	RecoveredAfter  int      `json:"recovered_after,omitempty"`
	ReasonMissing   string   `json:"reason_missing,omitempty"`
	DetailsMissing  string   `json:"details_missing,omitempty"`
	LastSuccessTime string   `json:"last_success,omitempty"`
	TimeNote        string   `json:"time_note,omitempty"` // why timestamp is the receive time
}

// Failure is Tableau's record of a failed refresh.
type Failure struct {
	Error     string `json:"error"`
	Headline  string `json:"headline"`
	JobID     string `json:"job_id,omitempty"`
	StartedAt string `json:"started_at,omitempty"`
	EndedAt   string `json:"ended_at,omitempty"`
}

// NewBody is the body for one event.
func NewBody(id string, f enrich.Facts) Body {
	at := f.At
	if at.IsZero() {
		at = time.Now()
	}
	// RFC 3339 always: Tableau's created_at, or when tabhook received the event.
	b := Body{Type: f.Event, Timestamp: at.UTC().Format(time.RFC3339), Data: Data{EventID: id, Payload: f.Payload}}
	e := &b.Data.Enrichment
	e.Site = f.Site
	e.Kind, e.Name, e.Project, e.Owner, e.OwnerEmail, e.URL, e.Tags, e.SiteRole = f.Kind, f.Name, f.Project, f.Owner, f.OwnerEmail, f.URL, f.Tags, f.SiteRole
	e.FailuresInARow, e.RecoveredAfter, e.ReasonMissing, e.DetailsMissing = f.Streak, f.Recovered, f.NoReason, f.Degraded
	e.TimeNote = f.AtNote
	if !f.LastSuccess.IsZero() {
		e.LastSuccessTime = f.LastSuccess.UTC().Format(time.RFC3339)
	}
	if fl := f.Failure; fl != nil {
		e.Failure = &Failure{Error: fl.Error, Headline: words.Headline(fl.Error), JobID: fl.JobID, StartedAt: stamp(fl.Started), EndedAt: stamp(fl.Ended)}
	}
	return b
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// MessageID is the webhook-id of an event: its identity, the same on every retry.
func MessageID(eventID string) string { return "evt_" + eventID }

// Sender posts signed bodies to one URL (destination.Sender).
type Sender struct {
	name, url string
	signer    *standardwebhooks.Webhook
	hc        *http.Client
	now       func() time.Time
}

// New builds a sender; secret is whsec_ and base64.
func New(name, url, secret string, hc *http.Client) (*Sender, error) {
	signer, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, err
	}
	return &Sender{name: name, url: url, signer: signer, hc: destination.Client(hc), now: time.Now}, nil
}

// Digests: receivers get every event as its own request.
func (s *Sender) Digests() bool { return false }

// Send posts each event; any 2xx is success.
func (s *Sender) Send(ctx context.Context, events []destination.Event) error {
	for _, ev := range events {
		if err := s.send(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sender) send(ctx context.Context, ev destination.Event) error {
	body, err := json.Marshal(NewBody(ev.ID, ev.Facts))
	if err != nil {
		return &destination.Error{Destination: s.name, Permanent: true, Reason: err.Error()}
	}
	id, at := MessageID(ev.ID), s.now()
	sig, err := s.signer.Sign(id, at, body)
	if err != nil {
		return &destination.Error{Destination: s.name, Permanent: true, Reason: "sign: " + err.Error()}
	}
	header := http.Header{}
	header.Set(standardwebhooks.HeaderWebhookID, id)
	header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return destination.Post(ctx, s.hc, s.name, s.url, body, header)
}
