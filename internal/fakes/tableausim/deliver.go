package tableausim

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/tableau"
)

// Tableau's delivery rules: 5 s to connect, 3 s for the answer, a non-2xx answer is
// retried 3 times.
const (
	connectTimeout  = 5 * time.Second
	responseTimeout = 3 * time.Second
	retries         = 3
)

func deliveryClient(tlsConf *tls.Config) *http.Client {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: connectTimeout}).DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: responseTimeout,
		TLSClientConfig:       tlsConf,
		MaxIdleConnsPerHost:   16,
	}
	return &http.Client{Transport: tr, Timeout: connectTimeout + responseTimeout}
}

// Event is something that happens on the site and is delivered to its webhooks.
type Event struct {
	Type         string // API name, e.g. WorkbookUpdated
	ResourceLUID string
	ResourceName string
	CreatedAt    time.Time // zero: now
	// Notes is the error a …RefreshFailed event's job records; default
	// DefaultRefreshError.
	Notes string
	// Incremental makes the refresh's job an incremental one (increment_extracts).
	Incremental bool
}

func (ev Event) jobType() string {
	if ev.Incremental {
		return "increment_extracts"
	}
	return "refresh_extracts"
}

// Delivery is the outcome of delivering one event to one webhook.
type Delivery struct {
	WebhookID string
	URL       string
	Payload   []byte
	Attempts  int
	Status    int // last answer's status; 0 when no answer came
	OK        bool
	Err       string
}

// Fire delivers ev to every enabled webhook subscribed to it and waits until each has
// been answered 2xx or has used its retries.
func (s *Sim) Fire(ctx context.Context, ev Event) ([]Delivery, error) {
	e, err := tableau.ParseEvent(ev.Type)
	if err != nil {
		return nil, err
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = time.Now().UTC()
	}
	s.recordJob(e, ev)
	body, err := json.Marshal(payload.Payload{
		Resource: e.Resource, EventType: e.Name, ResourceName: ev.ResourceName,
		SiteLUID: s.SiteID(), ResourceLUID: ev.ResourceLUID, CreatedAt: ev.CreatedAt.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return nil, err
	}
	var targets []*webhook
	s.mu.Lock()
	for _, id := range s.order {
		if h := s.webhooks[id]; h.Enabled && h.Event == e.Name {
			targets = append(targets, h)
		}
	}
	s.mu.Unlock()
	out := make([]Delivery, len(targets))
	var wg sync.WaitGroup
	for i, h := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.deliver(ctx, h, body)
		}()
	}
	wg.Wait()
	return out, nil
}

// deliver posts body to h with Tableau's retry rule and tracks failures.
func (s *Sim) deliver(ctx context.Context, h *webhook, body []byte) Delivery {
	s.mu.Lock()
	d := Delivery{WebhookID: h.ID, URL: h.URL, Payload: body}
	s.mu.Unlock()
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(s.opts.RetryDelay):
			case <-ctx.Done():
				d.Err = ctx.Err().Error()
				return d
			}
		}
		d.Attempts++
		d.Status, d.Err = s.post(ctx, d.URL, body)
		if d.Status >= 200 && d.Status < 300 {
			d.OK, d.Err = true, ""
			break
		}
	}
	s.recordOutcome(h, d.OK)
	return d
}

func (s *Sim) recordOutcome(h *webhook, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		h.failures = 0
		return
	}
	h.failures++
	if s.opts.DisableAfter > 0 && h.failures >= s.opts.DisableAfter && h.Enabled {
		h.Enabled = false
		h.StatusChangeReason = fmt.Sprintf("Webhook disabled after %d consecutive failed deliveries", h.failures)
		h.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	}
}

// post sends one delivery (nil body: the empty test delivery) and returns the status as
// Tableau reports it, with the answer's body or the reason there was none.
func (s *Sim) post(ctx context.Context, url string, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "TableauWebhooks/1.0")
	resp, err := s.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return http.StatusRequestTimeout, "timed out waiting for the destination: " + err.Error()
		}
		return http.StatusBadGateway, "could not reach the destination: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, strings.TrimSpace(string(b))
}
