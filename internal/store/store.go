// Package store is the contract between delivery and storage: what the relay needs from
// wherever accepted events are kept: the embedded spool (internal/spool), or
// PostgreSQL shared by replicas (internal/pgstore). storetest holds the suite every
// implementation must pass.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
)

// State is where an event is in its delivery.
type State string

// States.
const (
	Pending   State = "pending"
	Delivered State = "delivered"
	Dead      State = "dead"
)

// Record is one accepted event and its delivery state. It is the contract's type, not
// a storage format (each store has its own) nor a wire format (control.Delivery).
type Record struct {
	ID  uint64 // the store's handle; local to the store
	Key string // deduplication key (KeyFor)
	// Destination is where this record of the event goes: "" for Slack (the record
	// the listener stores), else a configured destination's name — one record per
	// destination, each with its own retries and dead letters.
	Destination string
	Payload     payload.Payload
	ReceivedAt  time.Time
	State       State
	Attempts    int
	NextTry     time.Time // not due before; zero: due now
	LastError   string
	DeadReason  string
	// Channel is the Slack channel ID the message went to; MessageTS its timestamp once
	// posted, so a retry (of the preview upload, say) never posts the message again.
	Channel     string
	MessageTS   string
	PostStarted bool      // a post was sent; its outcome may be unknown
	SentAt      time.Time // when the first post was sent
	PreviewDone bool
	Digest      bool // posted as part of a digest message
	// DigestKey is what a digest message stands for when it stands for too many events
	// to list them in its metadata (a backlog): fixed with PostStarted, so a retry after
	// a lost answer looks for the digest, not for each event.
	DigestKey string
	// ThreadTS is the message the post replies to (a refresh's thread), fixed with
	// PostStarted so a retry looks for — and posts — the reply in the same thread.
	ThreadTS    string
	DeliveredAt time.Time
	// Lease is the token of the claim this record was read under: Claim sets it, a
	// claim of the same record by anyone after sets another, and a read inside a write
	// (Update's fn) shows the one that holds now. A writer compares the two and
	// refuses (ErrLeaseLost) when they differ: its claim ended and another holder
	// has the record. Not stored in the record's JSON.
	Lease uint64
	// Holder and LeaseUntil say who holds a pending record's claim and until when, as
	// a listing shows it (a replica's host and process; "" when unclaimed). Not stored
	// in the record's JSON.
	Holder     string
	LeaseUntil time.Time
}

// Stored is the JSON form in which stores persist a record (the spool's index and
// intake log, the database's rows). Its names are a compatibility promise to data
// written by earlier versions: add fields, never rename them.
type Stored struct {
	ID          uint64          `json:"id"`
	Key         string          `json:"key"`
	Destination string          `json:"destination,omitempty"`
	Payload     payload.Payload `json:"payload"`
	ReceivedAt  time.Time       `json:"received_at"`
	State       State           `json:"state"`
	Attempts    int             `json:"attempts"`
	NextTry     time.Time       `json:"next_try,omitzero"`
	LastError   string          `json:"last_error,omitempty"`
	DeadReason  string          `json:"dead_reason,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	MessageTS   string          `json:"message_ts,omitempty"`
	PostStarted bool            `json:"post_started,omitempty"`
	SentAt      time.Time       `json:"sent_at,omitzero"`
	PreviewDone bool            `json:"preview_done,omitempty"`
	Digest      bool            `json:"digest,omitempty"`
	DigestKey   string          `json:"digest_key,omitempty"`
	ThreadTS    string          `json:"thread_ts,omitempty"`
	DeliveredAt time.Time       `json:"delivered_at,omitzero"`
	Lease       uint64          `json:"-"`
	Holder      string          `json:"-"`
	LeaseUntil  time.Time       `json:"-"`
}

// ListQuery selects a page of records, oldest first: a listing reads a page at a
// time, so neither the relay nor the CLI ever holds a whole store in memory.
type ListQuery struct {
	State       State     // "" every state
	Destination string    // "" every destination; "slack" Slack's records
	Since       time.Time // received at or after; zero: any time
	// Site: only events of this site (its content URL, "default" the Default site;
	// any case), as a relay of several sites stamps them; "" every site.
	Site  string
	After uint64 // only IDs above this: the previous page's last
	Limit int    // at most this many; 0: no limit
}

// Matches reports whether r is selected (paging aside).
func (q ListQuery) Matches(r Record) bool {
	dest := r.Destination
	if dest == "" {
		dest = "slack"
	}
	return (q.State == "" || r.State == q.State) && (q.Destination == "" || q.Destination == dest) &&
		(q.Since.IsZero() || !r.ReceivedAt.Before(q.Since)) && (q.Site == "" || SiteIs(r.Payload.Site, q.Site))
}

// SiteIs reports whether an event's site (its content URL) is the one named: by
// content URL, or "default" (or "") for the Default site, in any case.
func SiteIs(contentURL, name string) bool {
	if contentURL == "" {
		return name == "" || strings.EqualFold(name, "default")
	}
	return strings.EqualFold(contentURL, name)
}

// Identity is the event's global identity (payload.Identity), which its messages carry
// — the same for every destination's record of the event.
func (r Record) Identity() string {
	if r.Key == "" {
		return r.Payload.Identity()
	}
	id, _, _ := strings.Cut(payload.IdentityOfKey(r.Key), "@")
	return id
}

// KeyFor is the deduplication key of an event's record for a destination ("": Slack).
func KeyFor(p payload.Payload, destination string) string {
	if destination == "" {
		return p.Key()
	}
	return p.Key() + "@" + destination
}

// IDString is the record's ID as the CLI shows it.
func (r Record) IDString() string { return strconv.FormatUint(r.ID, 10) }

// Errors callers branch on.
var (
	ErrNotFound  = errors.New("no such event in the store")
	ErrDelivered = errors.New("the event was delivered; retrying it would post it twice")
	// ErrLeaseLost refuses a write by a holder whose claim ended and was taken by
	// another (a replica frozen past its lease): it must send nothing more.
	ErrLeaseLost = errors.New("the claim on this event ended and another holder has it")
	ErrClosed    = errors.New("the store is closed")
	// ErrAtCap refuses intake while the backlog is at its cap (--max-spool-size).
	ErrAtCap = errors.New("the backlog of undelivered events (pending and dead) is at --max-spool-size: new events are refused (503, Tableau retries them) until it is delivered; see why with 'tabhook deliveries list --state dead' and the log, or raise --max-spool-size")
	// ErrFull refuses intake while the disk is full.
	ErrFull = errors.New("the state directory's disk is full: refusing new events until space is freed")
)

// ItemUpdate is one change of Store.UpdateItems: Fn as UpdateItem's.
type ItemUpdate struct {
	Key string
	Fn  func(old []byte) ([]byte, error)
}

// Shared is a store several replicas share: it names this process among them, and
// lets it join a group of replicas (run's webhook owners, serve's listeners) that
// knows who is alive and who is the last to leave.
type Shared interface {
	Replica() string
	Join(ctx context.Context, group string) (leave func(context.Context) (last bool, err error), err error)
}

// Recovered is a store that set damaged state aside when it opened (a torn index, an
// unreadable log segment), and says what.
type Recovered interface {
	Damaged() []string
}

// Store is what delivery needs from storage.
//
// Claims make each due event handled by one worker at a time (of one process, or of
// several replicas sharing a store): Claim leases events until lease passes or Release.
// A record's changes are made with Update, which is durable when it returns.
type Store interface {
	// Accept stores a delivery durably before it returns. An identical delivery (same
	// Key) already stored is not stored again: dup is true and rec is the first.
	Accept(p payload.Payload, now time.Time) (rec Record, dup bool, err error)
	// AcceptFor stores the event's record for a named destination, as Accept does
	// (Accept is AcceptFor with ""): routing hands an event to its destinations.
	AcceptFor(p payload.Payload, destination string, now time.Time) (rec Record, dup bool, err error)
	// Claim leases up to max pending events due at now (NextTry not after now) and not
	// leased by anyone, oldest first.
	Claim(now time.Time, max int, lease time.Duration) ([]Record, error)
	// Release ends the leases of these events: those still pending can be claimed again.
	Release(ids ...uint64)
	// Extend renews this holder's leases on these events until then: a long delivery
	// keeps its claim; a holder that dies stops renewing and loses it soon.
	Extend(until time.Time, ids ...uint64)
	// Hold keeps these events unclaimed until then, without a durable write: for when
	// an attempt's outcome could not be recorded (a full disk), so it is not retried
	// at once. A restart forgets it.
	Hold(until time.Time, ids ...uint64)
	// Expedite makes a destination's pending events that wait on a retry due now
	// (destination "" is Slack), and returns how many: when the destination answers
	// again after an outage, its backlog goes out at once — as one digest a channel —
	// instead of as each event's backoff ends. Claimed and held events are left alone.
	// The spool's change is in memory (a restart forgets it: the events then wait for
	// their own retry time).
	Expedite(destination string, now time.Time) (int, error)
	// NextDue is when the next pending event is due — its NextTry, or the end of its
	// lease or hold when later; ok is false when none is pending.
	NextDue() (at time.Time, ok bool)
	// Changed is signalled when events may have become due (accepted, requeued,
	// released): the moment to Claim again. One signal may stand for many changes.
	Changed() <-chan struct{}
	// Update changes one record durably; UpdateMany several in one transaction.
	Update(id uint64, fn func(*Record) error) (Record, error)
	UpdateMany(ids []uint64, fn func(*Record) error) error
	// Get, List and Requeue serve `tabhook deliveries`.
	Get(id uint64) (Record, error)
	List(q ListQuery) ([]Record, error) // a page, oldest first
	// Requeue makes a dead event pending and due now (ErrDelivered for a delivered one).
	Requeue(id uint64) (Record, error)
	// Pending counts the events not yet delivered nor dead, accepted ones included.
	Pending() (int, error)
	// Prune deletes delivered records delivered before cutoff, and dead letters
	// received before it (a dead letter nobody retried within the retention).
	Prune(cutoff time.Time) (int, error)
	// UpdateItem changes the small value kept under key — what links one Tableau
	// item's events (a refresh's thread, its failure streak) across restarts and
	// replicas. fn gets the current value (nil when none) and returns the new one
	// (nil deletes it); the change is atomic against other writers and durable when
	// UpdateItem returns. An error from fn changes nothing.
	UpdateItem(key string, fn func(old []byte) ([]byte, error)) ([]byte, error)
	// UpdateItems makes several such changes in one transaction, in order (a later
	// change of a key sees the earlier ones): a batch's refresh stories cost one write,
	// not one each. An error from an update's Fn leaves its key unchanged and is that
	// update's in errs; err is the transaction's (then nothing is changed).
	UpdateItems(updates []ItemUpdate) (errs []error, err error)
	// Item reads the value under key (nil when none) without writing.
	Item(key string) ([]byte, error)
	// PruneItems deletes the values last written before cutoff: the stories of items
	// that have been quiet for the retention (deleted content, retired extracts).
	PruneItems(cutoff time.Time) (int, error)
	Close() error
}

// ThisProcess names this process as claims and replicas show it: host:pid.
func ThisProcess() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}
