// Package destfake holds in-process receivers for the destinations besides Slack — a
// Teams Workflows webhook, PagerDuty's Events API v2 and a Standard Webhooks endpoint —
// for tests and the demo. Each records the requests it gets and answers as the real
// one does (202 from Teams and PagerDuty, 200 from a webhook), or as scripted: 429
// with Retry-After, 5xx, a hang.
package destfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Request is one request a receiver got.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time
	Status int // what it was answered
}

// Answer is a scripted answer.
type Answer struct {
	Status     int
	RetryAfter int           // seconds, with a 429
	Delay      time.Duration // before answering
}

// Receiver is one fake destination.
type Receiver struct {
	kind string
	srv  *httptest.Server

	mu        sync.Mutex
	requests  []Request
	script    []Answer // answered first, in order
	always    *Answer  // then this, while set
	incidents map[string]bool
	acked     map[string]bool // open incidents acknowledged
}

func newReceiver(kind string) *Receiver {
	r := &Receiver{kind: kind, incidents: map[string]bool{}, acked: map[string]bool{}}
	r.srv = httptest.NewServer(r)
	return r
}

// NewTeams is a Workflows webhook: it answers 202 to a message with an Adaptive Card.
func NewTeams() *Receiver { return newReceiver("teams") }

// NewPagerDuty is the Events API v2 at /v2/enqueue: 202 to a well-formed event; it
// keeps incidents open by dedup key until resolved.
func NewPagerDuty() *Receiver { return newReceiver("pagerduty") }

// NewWebhook is a receiver that answers 200.
func NewWebhook() *Receiver { return newReceiver("webhook") }

// URL is where to send: for Teams it carries a signature in its query, as a real
// workflow URL does.
func (r *Receiver) URL() string {
	switch r.kind {
	case "teams":
		return r.srv.URL + "/workflows/7a1c/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=FAKE-teams-signature-3e9d"
	case "webhook":
		return r.srv.URL + "/tableau"
	}
	return r.srv.URL
}

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

// Script makes the next requests get these answers, in order.
func (r *Receiver) Script(answers ...Answer) {
	r.mu.Lock()
	r.script = append(r.script, answers...)
	r.mu.Unlock()
}

// Fail makes every request get this answer until Recover.
func (r *Receiver) Fail(a Answer) {
	r.mu.Lock()
	r.always = &a
	r.mu.Unlock()
}

// Recover ends Fail.
func (r *Receiver) Recover() {
	r.mu.Lock()
	r.always = nil
	r.mu.Unlock()
}

// Requests returns what was received, answered ones and refused ones.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Accepted returns the requests answered with success.
func (r *Receiver) Accepted() []Request {
	var out []Request
	for _, q := range r.Requests() {
		if q.Status < 300 {
			out = append(out, q)
		}
	}
	return out
}

// Acknowledged reports whether the dedup key's open incident was acknowledged.
func (r *Receiver) Acknowledged(dedupKey string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acked[dedupKey]
}

// Incident reports whether PagerDuty holds an open incident for the dedup key, and
// whether it ever saw the key.
func (r *Receiver) Incident(dedupKey string) (open, seen bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	open, seen = r.incidents[dedupKey]
	return open, seen
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	a := Answer{}
	switch {
	case len(r.script) > 0:
		a, r.script = r.script[0], r.script[1:]
	case r.always != nil:
		a = *r.always
	}
	r.mu.Unlock()
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-req.Context().Done():
			return
		}
	}
	status, reply := a.Status, ""
	if status == 0 {
		status, reply = r.accept(req, body)
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(a.RetryAfter))
	}
	r.mu.Lock()
	r.requests = append(r.requests, Request{Path: req.URL.Path, Header: req.Header.Clone(), Body: body, At: time.Now(), Status: status})
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply)
}

// accept answers a request no script decided, as the real receiver would.
func (r *Receiver) accept(req *http.Request, body []byte) (int, string) {
	switch r.kind {
	case "teams":
		var m struct {
			Type        string `json:"type"`
			Attachments []struct {
				ContentType string          `json:"contentType"`
				Content     json.RawMessage `json:"content"`
			} `json:"attachments"`
		}
		if json.Unmarshal(body, &m) != nil || m.Type != "message" || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
			return http.StatusBadRequest, `{"error":{"code":"InvalidRequestContent","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}`
		}
		if len(body) > 28*1024 {
			return http.StatusRequestEntityTooLarge, `{"error":{"code":"MessageTooLarge"}}`
		}
		return http.StatusAccepted, ""
	case "pagerduty":
		return r.enqueue(req, body)
	}
	return http.StatusOK, `{"ok":true}`
}

// enqueue is the Events API v2: trigger opens the dedup key's incident, resolve
// closes it.
func (r *Receiver) enqueue(req *http.Request, body []byte) (int, string) {
	var e struct {
		RoutingKey string `json:"routing_key"`
		Action     string `json:"event_action"`
		DedupKey   string `json:"dedup_key"`
		Payload    *struct {
			Summary, Source, Severity string
		} `json:"payload"`
	}
	switch {
	case req.URL.Path != "/v2/enqueue":
		return http.StatusNotFound, `{"status":"not found"}`
	case json.Unmarshal(body, &e) != nil || len(e.RoutingKey) != 32:
		return http.StatusBadRequest, `{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`
	case e.Action == "trigger" && (e.Payload == nil || e.Payload.Summary == "" || e.Payload.Source == "" || e.Payload.Severity == ""):
		return http.StatusBadRequest, `{"status":"invalid event","message":"Event object is invalid","errors":["'payload' is missing or blank"]}`
	case e.Action != "trigger" && e.Action != "resolve" && e.Action != "acknowledge":
		return http.StatusBadRequest, `{"status":"invalid event","message":"Event object is invalid","errors":["'event_action' is invalid"]}`
	}
	r.mu.Lock()
	switch e.Action {
	case "trigger":
		r.incidents[e.DedupKey] = true
	case "acknowledge":
		// An acknowledge of an open incident marks it; of anything else it is accepted
		// and does nothing, as PagerDuty does.
		r.acked[e.DedupKey] = r.incidents[e.DedupKey]
	default:
		r.incidents[e.DedupKey], r.acked[e.DedupKey] = false, false
	}
	r.mu.Unlock()
	return http.StatusAccepted, `{"status":"success","message":"Event processed","dedup_key":"` + e.DedupKey + `"}`
}
