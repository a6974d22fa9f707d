package tableau

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API versions that gate webhook features.
const (
	minWebhooks     = "3.6"
	minWebhookEvent = "3.9" // the event attribute instead of the webhook-source element
	minUpdate       = "3.8"
)

// ListWebhooks returns every webhook of the site. The API does not paginate this list.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	const op = "list webhooks"
	if err := c.require(op, minWebhooks); err != nil {
		return nil, err
	}
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "webhooks", nil, &r); err != nil {
		return nil, err
	}
	out := make([]Webhook, 0, len(r.Webhooks))
	for _, w := range r.Webhooks {
		out = append(out, w.model())
	}
	return out, nil
}

// GetWebhook returns one webhook.
func (c *Client) GetWebhook(ctx context.Context, id string) (Webhook, error) {
	op := fmt.Sprintf("get webhook %s", id)
	if err := c.require(op, minWebhooks); err != nil {
		return Webhook{}, err
	}
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "webhooks/"+pathEscape(id), nil, &r); err != nil {
		return Webhook{}, err
	}
	if r.Webhook == nil {
		return Webhook{}, fmt.Errorf("%s: answer has no webhook", op)
	}
	return r.Webhook.model(), nil
}

// CreateWebhook creates a webhook; spec must name, event and URL.
func (c *Client) CreateWebhook(ctx context.Context, spec WebhookSpec) (Webhook, error) {
	op := fmt.Sprintf("create webhook %q", deref(spec.Name))
	if spec.Name == nil || spec.Event == nil || spec.URL == nil {
		return Webhook{}, fmt.Errorf("%s: name, event and URL are required", op)
	}
	if err := c.require(op, minWebhooks); err != nil {
		return Webhook{}, err
	}
	body, err := c.webhookRequest(spec)
	if err != nil {
		return Webhook{}, fmt.Errorf("%s: %w", op, err)
	}
	var r tsResponse
	if err := c.call(ctx, op, http.MethodPost, "webhooks", body, &r); err != nil {
		return Webhook{}, err
	}
	if r.Webhook == nil {
		return Webhook{}, fmt.Errorf("%s: answer has no webhook", op)
	}
	return r.Webhook.model(), nil
}

// UpdateWebhook changes the fields spec sets. Tableau's update takes the whole webhook,
// so unset fields are filled from the current state.
func (c *Client) UpdateWebhook(ctx context.Context, id string, spec WebhookSpec) (Webhook, error) {
	op := fmt.Sprintf("update webhook %s", id)
	if err := c.require(op, minUpdate); err != nil {
		return Webhook{}, err
	}
	cur, err := c.GetWebhook(ctx, id)
	if err != nil {
		return Webhook{}, err
	}
	full := WebhookSpec{Name: &cur.Name, Event: &cur.Event, URL: &cur.URL, Enabled: &cur.Enabled}
	if spec.Name != nil {
		full.Name = spec.Name
	}
	if spec.Event != nil {
		full.Event = spec.Event
	}
	if spec.URL != nil {
		full.URL = spec.URL
	}
	if spec.Enabled != nil {
		full.Enabled = spec.Enabled
	}
	body, err := c.webhookRequest(full)
	if err != nil {
		return Webhook{}, fmt.Errorf("%s: %w", op, err)
	}
	var r tsResponse
	if err := c.call(ctx, op, http.MethodPut, "webhooks/"+pathEscape(id), body, &r); err != nil {
		return Webhook{}, err
	}
	if r.Webhook == nil {
		return Webhook{}, fmt.Errorf("%s: answer has no webhook", op)
	}
	return r.Webhook.model(), nil
}

// DeleteWebhook deletes one webhook.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	op := fmt.Sprintf("delete webhook %s", id)
	if err := c.require(op, minWebhooks); err != nil {
		return err
	}
	return c.call(ctx, op, http.MethodDelete, "webhooks/"+pathEscape(id), nil, nil)
}

// TestWebhook asks Tableau to send its (empty) test delivery and reports the answer.
func (c *Client) TestWebhook(ctx context.Context, id string) (TestResult, error) {
	op := fmt.Sprintf("test webhook %s", id)
	if err := c.require(op, minWebhooks); err != nil {
		return TestResult{}, err
	}
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "webhooks/"+pathEscape(id)+"/test", nil, &r); err != nil {
		return TestResult{}, err
	}
	if r.TestResult == nil {
		return TestResult{}, fmt.Errorf("%s: answer has no webhookTestResult", op)
	}
	t := r.TestResult
	return TestResult{ID: t.ID, Status: t.Status, Body: strings.TrimSpace(t.Body), OK: t.Status >= 200 && t.Status < 300}, nil
}

func (c *Client) webhookRequest(spec WebhookSpec) (tsRequest, error) {
	ev, err := ParseEvent(deref(spec.Event))
	if err != nil {
		return tsRequest{}, err
	}
	w := &xmlWebhook{Name: deref(spec.Name), Destination: &xmlDest{}}
	w.Destination.HTTP.Method = http.MethodPost
	w.Destination.HTTP.URL = deref(spec.URL)
	if spec.Enabled != nil {
		w.IsEnabled = strconv.FormatBool(*spec.Enabled)
	}
	if v := c.Version(); v == "" || atLeast(v, minWebhookEvent) {
		w.Event = ev.Name
	} else {
		w.Source = &xmlSource{Events: []xmlElement{{XMLName: xmlName(ev.Source)}}}
	}
	return tsRequest{Webhook: w}, nil
}

func (w xmlWebhook) model() Webhook {
	m := Webhook{
		ID:                 w.ID,
		Name:               w.Name,
		Event:              w.eventName(),
		Enabled:            w.IsEnabled != "false", // absent on servers before 3.8: enabled
		StatusChangeReason: w.StatusChangeReason,
		CreatedAt:          parseTime(w.CreatedAt),
		UpdatedAt:          parseTime(w.UpdatedAt),
	}
	if w.Destination != nil {
		m.URL = w.Destination.HTTP.URL
	}
	if w.Owner != nil {
		m.Owner = Ref{ID: w.Owner.ID, Name: w.Owner.Name}
	}
	return m
}

// eventName reads the event from the attribute (3.9+) or the source element, and keeps
// an unknown name as it is rather than failing.
func (w xmlWebhook) eventName() string {
	if w.Event != "" {
		if ev, err := ParseEvent(w.Event); err == nil {
			return ev.Name
		}
		return w.Event
	}
	if w.Source == nil || len(w.Source.Events) == 0 {
		return ""
	}
	src := w.Source.Events[0].XMLName.Local
	if ev, err := ParseEvent(src); err == nil {
		return ev.Name
	}
	return src
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
