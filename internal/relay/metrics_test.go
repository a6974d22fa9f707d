package relay_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func value(t *testing.T, metrics, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestMetricsMove scrapes the metrics endpoint during an end-to-end run and checks that
// the counters follow what happened.
func TestMetricsMove(t *testing.T) {
	w := newWorld(t)
	m := relay.NewMetrics()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	var err error
	w.tableau, err = tableau.New(tableau.Config{Server: w.tableau.Server(), PATName: patName, PATSecret: patSecret, OnCall: m.TableauCall})
	if err != nil {
		t.Fatal(err)
	}
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Metrics, cfg.MetricsListen = m, addr
	cfg.Slack = slackout.New(slackout.Options{Token: slackToken, APIURL: w.slack.APIURL(), OnError: m.SlackError})
	w.start(cfg)
	before := scrape(t, addr)
	if value(t, before, `tabhook_events_delivered_total{destination="slack"}`) != 0 {
		t.Fatal("delivered before anything happened")
	}
	ev := tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"}
	w.fire(ev)
	w.fire(ev) // the same delivery again: a duplicate
	w.slack.RateLimit("chat.postMessage", 1, 1)
	ev.ResourceName = "second"
	ev.CreatedAt = ev.CreatedAt.AddDate(0, 0, 1)
	w.fire(ev)
	eventually(t, "two deliveries", func() bool { return w.count(relay.EvDelivered) == 2 })
	after := scrape(t, addr)
	for series, want := range map[string]float64{
		`tabhook_events_received_total{site=""}`:                                    2,
		"tabhook_events_duplicate_total":                                            1,
		`tabhook_events_delivered_total{destination="slack"}`:                       2,
		"tabhook_slack_rate_limited_total":                                          1,
		`tabhook_delivery_failures_total{destination="slack",reason="ratelimited"}`: 1,
		"tabhook_delivery_latency_seconds_count":                                    2,
		"tabhook_spool_pending":                                                     0,
	} {
		if got := value(t, after, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if value(t, after, `tabhook_tableau_calls_total{status="200"}`) < 3 {
		t.Errorf("Tableau calls not counted:\n%s", after)
	}
	if value(t, after, "go_goroutines") == 0 {
		t.Error("no Go runtime metrics")
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

// metricValue reads one series from the metrics' handler.
func metricValue(t *testing.T, m *relay.Metrics, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return value(t, rec.Body.String(), series)
}
