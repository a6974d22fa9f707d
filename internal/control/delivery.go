package control

import (
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/store"
)

// Delivery is one event's delivery as `tabhook deliveries -o json` prints it and the
// control socket answers it. It is a documented, stable shape (docs/deliveries.md):
// fields are added, never renamed or removed. It is neither the store's type nor any
// store's disk format, which may change freely.
type Delivery struct {
	ID       uint64 `json:"id"`       // the store's number for the event, for the CLI
	Identity string `json:"identity"` // the event's global identity, carried by its messages
	// Destination is where this record of the event goes: "slack", or the name of a
	// configured destination (each has a record of its own, retried on its own).
	Destination string          `json:"destination"`
	State       string          `json:"state"`   // pending, delivered or dead
	Payload     payload.Payload `json:"payload"` // what Tableau sent
	ReceivedAt  time.Time       `json:"received_at"`
	Attempts    int             `json:"attempts"`
	NextTry     *time.Time      `json:"next_try,omitempty"`
	LastError   string          `json:"last_error,omitempty"`
	DeadReason  string          `json:"dead_reason,omitempty"`
	DeliveredAt *time.Time      `json:"delivered_at,omitempty"`
	// HeldBy and LeaseUntil: the replica (host:pid) that holds a pending event's claim,
	// and until when — a claim, not a stuck queue.
	HeldBy     string     `json:"held_by,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
	// Destinations says what was sent where; empty until a first post was sent.
	Destinations []Destination `json:"destinations"`
}

// Destination is the event's delivery to one destination.
type Destination struct {
	Type      string     `json:"type"`                 // "slack"
	Channel   string     `json:"channel,omitempty"`    // Slack channel ID
	MessageTS string     `json:"message_ts,omitempty"` // the message standing for the event
	SentAt    *time.Time `json:"sent_at,omitempty"`    // the first post was sent then
	Digest    bool       `json:"digest"`               // the message is a digest of several events
	Preview   bool       `json:"preview_uploaded"`
}

// FromRecord is a record's wire shape.
func FromRecord(r store.Record) Delivery {
	d := Delivery{
		ID: r.ID, Identity: r.Identity(), Destination: "slack", State: string(r.State), Payload: r.Payload, ReceivedAt: r.ReceivedAt,
		Attempts: r.Attempts, NextTry: timePtr(r.NextTry), LastError: r.LastError, DeadReason: r.DeadReason,
		DeliveredAt: timePtr(r.DeliveredAt), Destinations: []Destination{},
		HeldBy: r.Holder, LeaseUntil: timePtr(r.LeaseUntil),
	}
	if r.Destination != "" {
		d.Destination = r.Destination
	}
	if r.PostStarted || r.MessageTS != "" {
		d.Destinations = append(d.Destinations, Destination{Type: "slack", Channel: r.Channel, MessageTS: r.MessageTS,
			SentAt: timePtr(r.SentAt), Digest: r.Digest, Preview: r.PreviewDone})
	}
	return d
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// IDString is the event's number as the CLI shows it.
func (d Delivery) IDString() string { return store.Record{ID: d.ID}.IDString() }
