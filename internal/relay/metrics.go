package relay

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the relay's Prometheus metrics. Feed it the relay's events (Observe), the
// Tableau client's calls (TableauCall) and Slack's errors (SlackError).
type Metrics struct {
	reg          *prometheus.Registry
	received     *prometheus.CounterVec
	duplicates   prometheus.Counter
	rejected     *prometheus.CounterVec
	refused      *prometheus.CounterVec
	degraded     *prometheus.CounterVec
	leaseLost    prometheus.Counter
	repaired     *prometheus.CounterVec
	watched      *prometheus.GaugeVec
	delivered    *prometheus.CounterVec
	failed       *prometheus.CounterVec
	dead         *prometheus.CounterVec
	recovered    prometheus.Counter
	paused       *prometheus.GaugeVec
	diskUsed     prometheus.Gauge
	damaged      prometheus.Gauge
	reposts      *prometheus.CounterVec
	slack429     prometheus.Counter
	slackErrors  *prometheus.CounterVec
	tableauCalls *prometheus.CounterVec
	latency      prometheus.Histogram
	actions      *prometheus.CounterVec
	muted        prometheus.Counter
}

// NewMetrics registers the relay's metrics and Go's runtime and process metrics.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tabhook", Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tabhook", Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	m := &Metrics{
		reg:          reg,
		received:     vec("events_received_total", "Deliveries stored and acknowledged, by site (a relay of several sites; at most config.MaxSites).", "site"),
		duplicates:   counter("events_duplicate_total", "Deliveries of events already stored (Tableau's retries)."),
		rejected:     vec("deliveries_rejected_total", "Deliveries refused by the listener.", "status"),
		repaired:     vec("webhooks_repaired_total", "run's webhooks put right after they drifted, by reason: missing (re-created), disabled (re-enabled), changed (put back).", "reason"),
		leaseLost:    counter("claims_lost_total", "Events dropped by this replica because another took their claim over (a pause past the lease): the other delivers them."),
		degraded:     vec("events_degraded_total", "Events posted with the payload's facts only, by why: gone (Tableau no longer has the item), unanswered, refused.", "why"),
		refused:      vec("events_refused_total", "Valid deliveries that could not be stored (answered 503; Tableau retries), by reason: backlog_cap, disk_full, store_error.", "reason"),
		delivered:    vec("events_delivered_total", "Events posted to Slack or sent to a destination, by destination.", "destination"),
		failed:       vec("delivery_failures_total", "Failed delivery attempts, by reason and destination.", "reason", "destination"),
		dead:         vec("events_dead_total", "Events dead-lettered after a permanent failure, by destination.", "destination"),
		recovered:    counter("posts_recovered_total", "Interrupted posts found in the channel's history, so not posted again."),
		reposts:      vec("reposts_unchecked_total", "Interrupted posts sent again without a history check (possible duplicates), by why the check could not run.", "reason"),
		slack429:     counter("slack_rate_limited_total", "Slack answers 429 (rate limited)."),
		slackErrors:  vec("slack_errors_total", "Slack errors, by Slack's error code.", "code"),
		tableauCalls: vec("tableau_calls_total", "Tableau REST calls, by HTTP status (0: no answer).", "status"),
		actions:      vec("actions_total", "Clicks on the buttons of messages (--actions), by action (refresh, mute, unmute, acknowledge) and result (requested, already_queued, muted, unmuted, acknowledged, denied, failed).", "action", "result"),
		muted:        counter("alerts_muted_total", "Slack alerts held back because their item was muted from a message."),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "tabhook", Name: "delivery_latency_seconds",
			Help: "Time from receiving an event to posting it.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
	}
	m.paused = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tabhook", Name: "delivery_paused",
		Help: "1 while delivery is paused: to a destination that refused the credential (channel empty), or to one Slack channel that refuses posts."}, []string{"destination", "channel", "site"})
	m.delivered.WithLabelValues("slack")
	m.dead.WithLabelValues("slack")
	m.paused.WithLabelValues("slack", "", "").Set(0)
	for _, reason := range []string{"backlog_cap", "disk_full", "store_error"} {
		m.refused.WithLabelValues(reason)
	}
	m.paused.WithLabelValues("tableau", "", "").Set(0)
	m.diskUsed = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "tabhook", Name: "state_dir_disk_used_ratio",
		Help: "How full the state directory's file system is, 0 to 1."})
	m.damaged = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "tabhook", Name: "spool_damage_found",
		Help: "Damaged parts of the spool found at start, set aside and recovered from (see the log and doctor)."})
	m.watched = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tabhook", Name: "webhooks_watched",
		Help: "serve --watch-webhooks: the watched webhooks pointing at this relay, by state (enabled, disabled)."}, []string{"state"})
	reg.MustRegister(m.latency, m.paused, m.diskUsed, m.damaged, m.watched)
	return m
}

// Info exports the build and the replica (host:pid on a shared store, "" alone) as
// tabhook_info{version,replica} 1: every series of a replica can be joined to its name.
func (m *Metrics) Info(version, replica string) {
	if m == nil {
		return
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "tabhook", Name: "info", Help: "1, labelled with tabhook's version and the replica's name (host:pid) on a shared store."}, []string{"version", "replica"})
	if err := m.reg.Register(g); err == nil {
		g.WithLabelValues(version, replica).Set(1)
	}
}

// Pending exports the number of events waiting in the spool.
func (m *Metrics) Pending(count func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tabhook", Name: "spool_pending", Help: "Events stored and not yet delivered."}, count))
}

// Observe counts a relay event.
func (m *Metrics) Observe(e Event) {
	switch e.Type {
	case EvReceived:
		m.received.WithLabelValues(e.Site).Inc()
	case EvDuplicate:
		m.duplicates.Inc()
	case EvRejected:
		m.rejected.WithLabelValues(strconv.Itoa(e.Status)).Inc()
	case EvDelivered:
		m.delivered.WithLabelValues(e.Destination).Inc()
		m.latency.Observe(e.Latency.Seconds())
	case EvRetrying:
		m.failed.WithLabelValues(e.Reason, e.Destination).Inc()
	case EvDead:
		m.failed.WithLabelValues(e.Reason, e.Destination).Inc()
		m.dead.WithLabelValues(e.Destination).Inc()
	case EvRecovered:
		m.recovered.Inc()
	case EvPaused:
		m.paused.WithLabelValues(e.Destination, e.Channel, e.Site).Set(1)
	case EvResumed:
		m.paused.WithLabelValues(e.Destination, e.Channel, e.Site).Set(0)
	case EvRepost:
		m.reposts.WithLabelValues(e.Reason).Inc()
	}
}

// SpoolDamaged records how many damaged parts the spool set aside at start. A nil
// Metrics ignores it.
func (m *Metrics) SpoolDamaged(n int) {
	if m != nil {
		m.damaged.Set(float64(n))
	}
}

// Refused counts one delivery that could not be stored. A nil Metrics ignores it.
func (m *Metrics) Refused(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

// Action counts a click on a message's button. A nil Metrics ignores it.
func (m *Metrics) Action(action, result string) {
	if m != nil {
		m.actions.WithLabelValues(action, result).Inc()
	}
}

// Muted counts an alert held back by a mute. A nil Metrics ignores it.
func (m *Metrics) Muted() {
	if m != nil {
		m.muted.Inc()
	}
}

// Degraded counts an event posted with the payload's facts only. A nil Metrics ignores it.
func (m *Metrics) Degraded(why string) {
	if m == nil {
		return
	}
	label := "refused"
	switch {
	case strings.Contains(why, "no longer has"):
		label = "gone"
	case strings.Contains(why, "did not answer"):
		label = "unanswered"
	}
	m.degraded.WithLabelValues(label).Inc()
}

// WebhooksWatched sets how many watched webhooks are enabled and disabled. A nil
// Metrics ignores it.
func (m *Metrics) WebhooksWatched(enabled, disabled int) {
	if m != nil {
		m.watched.WithLabelValues("enabled").Set(float64(enabled))
		m.watched.WithLabelValues("disabled").Set(float64(disabled))
	}
}

// WebhookRepaired counts a webhook put right. A nil Metrics ignores it.
func (m *Metrics) WebhookRepaired(reason string) {
	if m != nil {
		m.repaired.WithLabelValues(reason).Inc()
	}
}

// LeaseLost counts an event whose claim another replica took. A nil Metrics ignores it.
func (m *Metrics) LeaseLost() {
	if m != nil {
		m.leaseLost.Inc()
	}
}

// DiskUsed sets how full the state directory's file system is (0–1).
func (m *Metrics) DiskUsed(ratio float64) { m.diskUsed.Set(ratio) }

// TableauCall counts one REST call.
func (m *Metrics) TableauCall(_ string, status int, _ time.Duration) {
	m.tableauCalls.WithLabelValues(strconv.Itoa(status)).Inc()
}

// SlackError counts one Slack error.
func (m *Metrics) SlackError(code string) {
	if code == "ratelimited" {
		m.slack429.Inc()
	}
	m.slackErrors.WithLabelValues(code).Inc()
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
