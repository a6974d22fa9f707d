package tableausim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/tableau"
)

type webhook struct {
	ID, Name, Event, URL string
	Enabled              bool
	StatusChangeReason   string
	OwnerID              string
	CreatedAt, UpdatedAt time.Time
	failures             int // consecutive failed deliveries
}

// Webhook is a snapshot of a registered webhook.
type Webhook struct {
	ID, Name, Event, URL string
	Enabled              bool
	StatusChangeReason   string
}

// Webhooks returns the registered webhooks in creation order.
func (s *Sim) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, 0, len(s.order))
	for _, id := range s.order {
		h := s.webhooks[id]
		out = append(out, Webhook{ID: h.ID, Name: h.Name, Event: h.Event, URL: h.URL, Enabled: h.Enabled, StatusChangeReason: h.StatusChangeReason})
	}
	return out
}

// AddWebhook registers a webhook directly, as another tool or instance would have.
func (s *Sim) AddWebhook(name, event, destination string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	h := &webhook{ID: newID(), Name: name, Event: event, URL: destination, Enabled: true, OwnerID: adminUserID, CreatedAt: now, UpdatedAt: now}
	s.webhooks[h.ID] = h
	s.order = append(s.order, h.ID)
	return h.ID
}

func (s *Sim) wire(h *webhook, r *http.Request) webhookWire {
	w := webhookWire{
		ID: h.ID, Name: h.Name, IsEnabled: strconv.FormatBool(h.Enabled),
		CreatedAt: h.CreatedAt.Format(time.RFC3339), UpdatedAt: h.UpdatedAt.Format(time.RFC3339),
		Destination: &dest{},
	}
	reason := h.StatusChangeReason
	w.StatusChangeReason = &reason
	w.Destination.HTTP.Method, w.Destination.HTTP.URL = http.MethodPost, h.URL
	if ev, err := tableau.ParseEvent(h.Event); err == nil {
		w.Source = &source{Events: []element{{XMLName: xmlName(ev.Source)}}}
	}
	if versionAtLeast(r.PathValue("v"), "3.9") {
		w.Event = h.Event
	}
	owner := &ownerWire{ID: h.OwnerID}
	if u, ok := s.users[h.OwnerID]; ok {
		owner.Name = u.Name
	}
	w.Owner = owner
	return w
}

func (s *Sim) listWebhooks(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	list := &webhookList{Webhook: []webhookWire{}}
	for _, id := range s.order {
		list.Webhook = append(list.Webhook, s.wire(s.webhooks[id], r))
	}
	s.mu.Unlock()
	write(w, r, http.StatusOK, response{Webhooks: list})
}

func (s *Sim) getWebhook(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	h, ok := s.webhooks[r.PathValue("id")]
	var wire webhookWire
	if ok {
		wire = s.wire(h, r)
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404040", "Webhook")
		return
	}
	write(w, r, http.StatusOK, response{Webhook: &wire})
}

// validate checks a webhook request as Tableau does and returns the event's API name.
func validate(w http.ResponseWriter, r *http.Request, in *webhookWire) (string, bool) {
	if in == nil || strings.TrimSpace(in.Name) == "" {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The webhook name is missing.")
		return "", false
	}
	evName := in.Event
	if evName == "" && in.Source != nil && len(in.Source.Events) > 0 {
		evName = in.Source.Events[0].XMLName.Local
	}
	ev, err := tableau.ParseEvent(evName)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The webhook event '"+evName+"' is not a supported event.")
		return "", false
	}
	if in.Destination == nil {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The webhook destination is missing.")
		return "", false
	}
	u, err := url.Parse(in.Destination.HTTP.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The destination URL must use the https protocol: '"+in.Destination.HTTP.URL+"'.")
		return "", false
	}
	return ev.Name, true
}

func (s *Sim) createWebhook(w http.ResponseWriter, r *http.Request, ss session) {
	req, err := readRequest(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The request body could not be parsed.")
		return
	}
	ev, ok := validate(w, r, req.Webhook)
	if !ok {
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	h := &webhook{ID: newID(), Name: req.Webhook.Name, Event: ev, URL: req.Webhook.Destination.HTTP.URL, Enabled: req.Webhook.IsEnabled != "false", OwnerID: ss.userID, CreatedAt: now, UpdatedAt: now}
	s.mu.Lock()
	s.webhooks[h.ID] = h
	s.order = append(s.order, h.ID)
	wire := s.wire(h, r)
	s.mu.Unlock()
	write(w, r, http.StatusCreated, response{Webhook: &wire})
}

func (s *Sim) updateWebhook(w http.ResponseWriter, r *http.Request, _ session) {
	req, err := readRequest(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The request body could not be parsed.")
		return
	}
	ev, ok := validate(w, r, req.Webhook)
	if !ok {
		return
	}
	s.mu.Lock()
	h, found := s.webhooks[r.PathValue("id")]
	var wire webhookWire
	if found {
		h.Name, h.Event, h.URL = req.Webhook.Name, ev, req.Webhook.Destination.HTTP.URL
		if req.Webhook.IsEnabled != "" {
			enabled := req.Webhook.IsEnabled == "true"
			if enabled && !h.Enabled {
				h.StatusChangeReason, h.failures = "", 0
			}
			h.Enabled = enabled
		}
		h.UpdatedAt = time.Now().UTC().Truncate(time.Second)
		wire = s.wire(h, r)
	}
	s.mu.Unlock()
	if !found {
		notFound(w, r, "404040", "Webhook")
		return
	}
	write(w, r, http.StatusOK, response{Webhook: &wire})
}

func (s *Sim) deleteWebhook(w http.ResponseWriter, r *http.Request, _ session) {
	id := r.PathValue("id")
	s.mu.Lock()
	_, ok := s.webhooks[id]
	if ok {
		delete(s.webhooks, id)
		for i, o := range s.order {
			if o == id {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404040", "Webhook")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// testWebhook sends the empty test delivery and reports the destination's answer.
func (s *Sim) testWebhook(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	h, ok := s.webhooks[r.PathValue("id")]
	var dst string
	if ok {
		dst = h.URL
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404040", "Webhook")
		return
	}
	status, body := s.post(r.Context(), dst, nil)
	write(w, r, http.StatusOK, response{TestResult: &testResult{ID: newID(), Status: status, Body: body}})
}

func versionAtLeast(have, want string) bool {
	hMaj, hMin, _ := strings.Cut(have, ".")
	wMaj, wMin, _ := strings.Cut(want, ".")
	a, _ := strconv.Atoi(hMaj)
	b, _ := strconv.Atoi(hMin)
	c, _ := strconv.Atoi(wMaj)
	d, _ := strconv.Atoi(wMin)
	return a > c || (a == c && b >= d)
}

// DisableWebhook disables a webhook with a reason, as Tableau does after failures.
func (s *Sim) DisableWebhook(id, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.webhooks[id]
	if ok {
		h.Enabled, h.StatusChangeReason = false, reason
	}
	return ok
}
