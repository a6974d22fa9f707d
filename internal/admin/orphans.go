package admin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/tableau"
)

// Trial is one of Tableau's test deliveries to a webhook.
type Trial struct {
	At     time.Time `json:"at"`
	Status int       `json:"status"` // 0: no answer
	OK     bool      `json:"ok"`
	Err    string    `json:"error,omitempty"` // the test could not be run
}

// Evidence is what prune learned of a webhook, and its verdict.
type Evidence struct {
	Webhook  tableau.Webhook `json:"webhook"`
	Disabled string          `json:"disabled,omitempty"` // Tableau disabled it, and why
	Relay    string          `json:"relay,omitempty"`    // the health endpoint of the tabhook relay that answered
	Trials   []Trial         `json:"tests,omitempty"`
	Orphan   bool            `json:"orphan"`
	Why      string          `json:"why"`
}

// Judge decides which webhooks are orphans, never on one failed test: a relay
// restarting, paused for a GC or a deploy, must not lose its webhooks to a cron prune.
type Judge struct {
	// ConfirmAfter is the period Tests tests are spread over: a webhook is an orphan
	// only when every one of them failed. 0 (--once): a single test.
	ConfirmAfter time.Duration
	Tests        int // default 3
	// Probe reports whether a tabhook relay answers at a webhook's host (its
	// /healthz); default HealthProbe.
	Probe func(ctx context.Context, webhookURL string) (string, bool)
	// Sleep waits between test rounds; default a timer (ctx ends it).
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// Judge gathers each webhook's evidence and verdict: an orphan when Tableau already
// disabled it for failed deliveries, or when every test over the confirmation period
// failed — never when a tabhook relay answers its health endpoint at the webhook's
// host, nor when a test could not be run (no deletion on doubt).
func (j Judge) Judge(ctx context.Context, api API, hooks []tableau.Webhook) []Evidence {
	j = j.withDefaults()
	out := make([]Evidence, len(hooks))
	var open []int // undecided: tested in every round
	for i, h := range hooks {
		out[i].Webhook = h
		if at, live := j.Probe(ctx, h.URL); live {
			// First: a live relay's webhook is never deleted, even one Tableau disabled
			// while the relay was down (run enables it again).
			out[i].Relay, out[i].Why = at, "a tabhook relay answers "+at
			continue
		}
		if !h.Enabled && h.StatusChangeReason != "" {
			out[i].Disabled, out[i].Orphan = h.StatusChangeReason, true
			out[i].Why = "Tableau disabled it: " + h.StatusChangeReason
			continue
		}
		open = append(open, i)
	}
	rounds := 1
	if j.ConfirmAfter > 0 {
		rounds = j.Tests
	}
	for round := 0; round < rounds && len(open) > 0; round++ {
		if round > 0 {
			if err := j.Sleep(ctx, j.ConfirmAfter/time.Duration(rounds-1)); err != nil {
				break
			}
		}
		results := TestAll(ctx, api, pick(hooks, open))
		var still []int
		for k, i := range open {
			res := results[k]
			t := Trial{At: j.Now(), Status: res.Result.Status, OK: res.Err == nil && res.Result.OK}
			if res.Err != nil {
				t.Err = res.Err.Error()
			}
			out[i].Trials = append(out[i].Trials, t)
			if t.Err == "" && !t.OK {
				still = append(still, i) // failed so far: tested again
			}
		}
		open = still
	}
	for i := range out {
		e := &out[i]
		if e.Disabled != "" || e.Relay != "" {
			continue
		}
		e.Orphan, e.Why = verdict(e.Trials, len(e.Trials) == rounds)
	}
	return out
}

// verdict: an orphan only when every test ran, failed, and there were all of them.
func verdict(trials []Trial, complete bool) (bool, string) {
	var answers []string
	for _, t := range trials {
		switch {
		case t.Err != "":
			return false, "kept: a test could not be run (" + t.Err + ")"
		case t.OK:
			return false, fmt.Sprintf("answered %d", t.Status)
		case t.Status == 0:
			answers = append(answers, "no answer")
		default:
			answers = append(answers, fmt.Sprint(t.Status))
		}
	}
	if !complete {
		return false, "kept: stopped before every test was run"
	}
	span := ""
	if len(trials) > 1 {
		span = fmt.Sprintf(" over %s", trials[len(trials)-1].At.Sub(trials[0].At).Round(time.Second))
	}
	return true, fmt.Sprintf("%d of %d tests%s failed: %s", len(trials), len(trials), span, strings.Join(answers, ", "))
}

func pick(hooks []tableau.Webhook, idx []int) []tableau.Webhook {
	out := make([]tableau.Webhook, len(idx))
	for k, i := range idx {
		out[k] = hooks[i]
	}
	return out
}

func (j Judge) withDefaults() Judge {
	if j.Tests < 2 {
		j.Tests = 3
	}
	if j.Probe == nil {
		j.Probe = HealthProbe
	}
	if j.Sleep == nil {
		j.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if j.Now == nil {
		j.Now = time.Now
	}
	return j
}

// HealthProbe asks the webhook URL's host for tabhook's health endpoint (/healthz,
// answered {"status":"ok"}): a relay that answers is alive, whatever Tableau's test
// said a moment ago. The certificate is not verified — nothing is sent, and the worst
// a stranger can do is keep a webhook.
func HealthProbe(ctx context.Context, webhookURL string) (string, bool) {
	u, err := url.Parse(webhookURL)
	if err != nil || u.Host == "" {
		return "", false
	}
	health := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/healthz"}).String()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
	if err != nil {
		return "", false
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // see above
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1024)).Decode(&body) != nil || body.Status != "ok" {
		return "", false
	}
	return health, true
}
