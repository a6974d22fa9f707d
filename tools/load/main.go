// Command load measures the relay against the ceilings of the machine it runs on.
//
// Ingest: unique, valid deliveries are posted over TLS at a chosen concurrency to three
// servers, each in its own process, one after the other: a bare net/http TLS handler;
// the durable ceiling — a TLS handler that appends each body to a file and fdatasyncs
// it with group commit before answering, the least work any design that is durable
// before acknowledging can do; and the real `tabhook serve` binary, with a Tableau
// simulator and a Slack fake in this process. It reports throughput, acknowledgement
// latency percentiles, and tabhook's resident memory idle and after the burst.
//
// Event to Slack: with the simulator answering REST calls in 100 ms and Slack in 50 ms,
// events are fired one by one and timed from Tableau's delivery to the message's arrival
// in Slack.
//
//	go run ./tools/load -c 16 -d 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/selfsigned"
)

const path = "/tableau/load-3f9c2d7e8a1b4c60"

func main() {
	conc := flag.Int("c", 16, "concurrent senders")
	dur := flag.Duration("d", 10*time.Second, "how long each server is loaded")
	only := flag.String("only", "", "run some parts, comma-separated: bare, ceiling, tabhook, stalled, pgceiling, pgstore, pgstalled, backlog, drain, e2e")
	drainEvents := flag.Int("drain", 100000, "events accepted while Slack is down in the drain scenario")
	pg := flag.String("pg", "", "a PostgreSQL URL: also measure the PostgreSQL ceiling, serve --store against it, and claims with a large backlog (each in a schema of its own)")
	events := flag.Int("events", 30, "events timed end to end")
	rounds := flag.Int("rounds", 3, "rounds of the three servers, in rotating order; medians are reported")
	serve := flag.String("serve", "", "internal: serve a ceiling target (bare or ceiling) in this process")
	dir := flag.String("dir", "", "internal: working directory of a served target")
	harness := flag.Bool("harness", false, "the independent harness's scenario: each round the durable ceiling, stalled, the ceiling again (and with -pg the same on PostgreSQL); 4-s rounds, 3 of them, ~600-byte bodies unless -d, -rounds, -body say otherwise; ratios against the mean of the ceilings just before and after")
	bodySize := flag.Int("body", 0, "pad every delivery's body to about this many bytes (0: Tableau's usual ~220)")
	flag.Parse()
	if *harness {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["d"] {
			*dur = 4 * time.Second
		}
		if !set["body"] {
			*bodySize = 600
		}
		if !set["events"] {
			*events = 0
		}
	}
	if *conc < 1 || *rounds < 1 || *events < 0 || *dur <= 0 {
		fmt.Fprintln(os.Stderr, "load: -c and -rounds must be at least 1, -d positive, -events 0 or more (0 skips the end-to-end timing)")
		os.Exit(2)
	}
	var err error
	if *serve != "" {
		err = serveTarget(*serve, *dir)
	} else {
		err = run(options{conc: *conc, dur: *dur, only: *only, events: *events, rounds: *rounds, pg: *pg, drain: *drainEvents, harness: *harness, body: *bodySize})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type result struct {
	name             string
	requests, errors int
	elapsed          time.Duration
	lat              []time.Duration
	rssIdle, rssPeak int64 // KiB
}

func (r result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[int(float64(len(lat)-1)*p)]
}

// options are the command line's choices.
type options struct {
	conc    int
	dur     time.Duration
	only    string
	events  int
	rounds  int
	pg      string
	drain   int
	harness bool
	body    int // bytes a delivery's body is padded to; 0: none
}

func run(o options) error {
	conc, dur, only, events, rounds, pg, drainEvents := o.conc, o.dur, o.only, o.events, o.rounds, o.pg, o.drain
	work, err := os.MkdirTemp("", "tabhook-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cert, err := selfsigned.Generate(time.Hour, "127.0.0.1")
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"tls.crt": cert.CertPEM, "tls.key": cert.KeyPEM} {
		if err := os.WriteFile(filepath.Join(work, name), data, 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "building tabhook...")
	bin := filepath.Join(work, "tabhook")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/tabhook").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	// The machine is shared and noisy: each round loads every server once, in an order
	// that rotates, and the report takes medians over rounds.
	names := []string{"bare", "ceiling", "tabhook", "stalled"}
	if pg != "" {
		names = append(names, "pgceiling", "pgstore", "pgstalled")
	}
	if o.harness {
		return harnessRounds(o, work, bin, cert)
	}
	var rs [][]result
	for round := range rounds {
		var results []result
		for i := range names {
			name := names[(i+round)%len(names)]
			if only != "" && !slices.Contains(strings.Split(only, ","), name) {
				continue
			}
			fmt.Fprintf(os.Stderr, "round %d: loading %s for %s...\n", round+1, name, dur)
			r, err := loadTarget(name, work, bin, cert, o)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			results = append(results, r)
		}
		if len(results) > 0 {
			rs = append(rs, results)
		}
	}
	if len(rs) > 0 {
		report(rs, conc, dur)
	}
	if pg != "" && (only == "" || slices.Contains(strings.Split(only, ","), "backlog")) {
		if err := backlog(pg, dur); err != nil {
			return fmt.Errorf("backlog: %w", err)
		}
	}
	if slices.Contains(strings.Split(only, ","), "drain") {
		if err := drain(work, bin, cert, conc, drainEvents); err != nil {
			return fmt.Errorf("drain: %w", err)
		}
	}
	if (only == "" || only == "e2e") && events > 0 {
		fmt.Fprintln(os.Stderr, "timing events end to end...")
		if err := endToEnd(work, bin, cert, events); err != nil {
			return fmt.Errorf("e2e: %w", err)
		}
	}
	return nil
}

func report(rounds [][]result, conc int, dur time.Duration) {
	fmt.Printf("Ingest: %d concurrent senders, %s per server per round, %d rounds, unique valid deliveries over TLS on loopback\n\n", conc, dur, len(rounds))
	fmt.Printf("%-8s %9s %7s %9s %9s %9s %10s %10s\n", "server", "req/s", "errors", "p50", "p90", "p99", "RSS idle", "RSS peak")
	byName := map[string][]result{}
	var order []string
	for _, rr := range rounds {
		for _, r := range rr {
			if _, ok := byName[r.name]; !ok {
				order = append(order, r.name)
			}
			byName[r.name] = append(byName[r.name], r)
		}
	}
	sort.Strings(order)
	mb := func(k int64) string {
		if k == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f MB", float64(k)/1024)
	}
	for _, name := range order {
		rs := byName[name]
		var rates []float64
		var lat []time.Duration
		var errs int
		var idle, peak int64
		for _, r := range rs {
			rates = append(rates, r.rate())
			lat = append(lat, r.lat...)
			errs += r.errors
			idle, peak = max(idle, r.rssIdle), max(peak, r.rssPeak)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Printf("%-8s %9.0f %7d %9s %9s %9s %10s %10s\n", name, median(rates), errs,
			pct(lat, .5).Round(10*time.Microsecond), pct(lat, .9).Round(10*time.Microsecond), pct(lat, .99).Round(10*time.Microsecond), mb(idle), mb(peak))
	}
	fmt.Println()
	var ratios, stalled, ceilings, pgRatios, pgStalled []float64
	for _, rr := range rounds {
		rates := map[string]float64{}
		for _, r := range rr {
			rates[r.name] = r.rate()
		}
		if rates["ceiling"] > 0 && rates["tabhook"] > 0 {
			ratios = append(ratios, rates["tabhook"]/rates["ceiling"])
		}
		if rates["ceiling"] > 0 && rates["stalled"] > 0 {
			stalled = append(stalled, rates["stalled"]/rates["ceiling"])
		}
		if rates["pgceiling"] > 0 && rates["pgstore"] > 0 {
			pgRatios = append(pgRatios, rates["pgstore"]/rates["pgceiling"])
		}
		if rates["pgceiling"] > 0 && rates["pgstalled"] > 0 {
			pgStalled = append(pgStalled, rates["pgstalled"]/rates["pgceiling"])
		}
		if rates["ceiling"] > 0 && rates["bare"] > 0 {
			ceilings = append(ceilings, rates["ceiling"]/rates["bare"])
		}
	}
	if len(ceilings) > 0 {
		fmt.Printf("durable ceiling / bare     = %.2f (median of rounds %s)\n", median(ceilings), fmtAll(ceilings))
	}
	if len(ratios) > 0 {
		fmt.Printf("tabhook / durable ceiling  = %.2f (median of rounds %s; target >= 0.80)\n", median(ratios), fmtAll(ratios))
	}
	if len(pgRatios) > 0 {
		fmt.Printf("serve --store / PostgreSQL ceiling = %.2f (median of rounds %s; target >= 0.80; one committed INSERT per request)\n", median(pgRatios), fmtAll(pgRatios))
	}
	if len(pgStalled) > 0 {
		fmt.Printf("stalled --store / PostgreSQL ceiling = %.2f (median of rounds %s; Tableau and Slack not answering: ingest alone)\n", median(pgStalled), fmtAll(pgStalled))
	}
	if len(stalled) > 0 {
		fmt.Printf("stalled / durable ceiling  = %.2f (median of rounds %s; target >= 0.80; distinct workbooks, Tableau and Slack not answering)\n", median(stalled), fmtAll(stalled))
	}
	fmt.Println()
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtAll(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}

// child is a server process under load.
type child struct {
	cmd   *exec.Cmd
	addr  string
	state string // its state directory
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// rss reads a process's resident set size in KiB (Linux; 0 elsewhere).
func rss(pid int) int64 { return procStatus(pid, "VmRSS") }

// procStatus reads one KiB field of a process's /proc status (VmRSS, RssAnon, RssFile).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// world is a Tableau simulator and a Slack fake for the tabhook child.
type world struct {
	sim   *tableausim.Sim
	slack *slackfake.Fake
	tsURL string
	close func()
}

func newWorld(cert *selfsigned.Cert) *world {
	sim := tableausim.New(tableausim.Options{DeliveryTLS: &tls.Config{RootCAs: cert.Pool}, RetryDelay: 100 * time.Millisecond})
	sim.AddPAT(tableausim.PAT{Name: "load", Secret: "load-secret"})
	srv := sim.Start()
	slack := slackfake.New("xoxb-load").Start()
	return &world{sim: sim, slack: slack, close: func() { srv.Close(); slack.Close() }, tsURL: srv.URL}
}

func startTabhook(bin, work string, w *world, extra ...string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	state := filepath.Join(work, "state-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if p := os.Getenv("LOAD_CPU_PROFILE"); p != "" {
		// A short drain: a stalled relay must exit (and write the profile) before it is killed.
		extra = append(extra, "--cpu-profile", p, "--drain-timeout", "1s")
	}
	args := append([]string{"serve", "--listen", addr, "--path", path, "--tls-cert", filepath.Join(work, "tls.crt"), "--tls-key", filepath.Join(work, "tls.key"),
		"--state-dir", state, "--slack-channel", "#alerts", "--log-level", "error"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TS_SERVER="+w.tsURL, "TS_PAT_NAME=load", "TS_PAT_SECRET=load-secret", "TS_SITE=",
		"SLACK_TOKEN=xoxb-load", "SLACK_API_URL="+w.slack.APIURL(), "TABHOOK_CONFIG=/dev/null")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, addr: addr, state: state}
	return c, waitReady(c)
}

func startCeiling(name, work string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve", name, "-dir", work)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start: %w", name, err)
	}
	c := &child{cmd: cmd, addr: strings.TrimSpace(line)}
	return c, waitReady(c)
}

func waitReady(c *child) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get("https://" + c.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.stop()
	return errors.New("server not up within 20s")
}

func loadTarget(name, work, bin string, cert *selfsigned.Cert, o options) (result, error) {
	conc, dur, pg := o.conc, o.dur, o.pg
	var c *child
	var err error
	site := "load-site"
	var stall func()
	var extra []string
	if name == "pgstore" || name == "pgceiling" || name == "pgstalled" {
		url, drop, err := freshSchema(pg)
		if err != nil {
			return result{}, err
		}
		defer drop()
		extra = append(extra, "--store", url)
		os.Setenv("LOAD_PG", url) // for the ceiling child
	}
	if name == "tabhook" || name == "stalled" || name == "pgstore" || name == "pgstalled" {
		w := newWorld(cert)
		defer w.close()
		site = w.sim.SiteID()
		c, err = startTabhook(bin, work, w, extra...)
		// stalled: Tableau and Slack stop answering once the relay is up, so every
		// delivery's enrichment and post hang and the backlog grows while ingest runs.
		stall = func() {
			if name == "stalled" || name == "pgstalled" {
				w.sim.SetLatency(time.Hour)
				w.slack.SetLatency(time.Hour)
			}
		}
	} else {
		c, err = startCeiling(name, work)
	}
	if err != nil {
		return result{}, err
	}
	defer c.stop()
	time.Sleep(500 * time.Millisecond) // let start-up settle before reading idle memory
	if stall != nil {
		stall()
	}
	res := result{name: name, rssIdle: rss(c.cmd.Process.Pid)}
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if v := rss(c.cmd.Process.Pid); v > peak.Load() {
					peak.Store(v)
				}
			case <-stopSampling:
				return
			}
		}
	}()
	err = hammer(&res, "https://"+c.addr+path, site, cert, conc, dur, shape{distinct: name == "stalled" || name == "pgstalled", size: o.body})
	close(stopSampling)
	res.rssPeak = peak.Load()
	return res, err
}

// hammer sends unique deliveries for dur. distinct: each about another workbook (no
// lookup is answered from the relay's cache); else all about one workbook.
func hammer(res *result, url, site string, cert *selfsigned.Cert, conc int, dur time.Duration, sh shape) error {
	distinct, limit := sh.distinct, sh.limit
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: cert.Pool}, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc,
	}}
	var seq atomic.Int64
	var mu sync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			for ctx.Err() == nil {
				n := seq.Add(1)
				if limit > 0 && n > limit {
					break
				}
				// Unique events (distinct times) about one workbook: the relay's lookups are
				// answered from its cache, so the simulator, which shares this machine, is not
				// what is measured.
				created := start.Add(time.Duration(n)).UTC().Format(time.RFC3339Nano)
				luid := tableausim.WorkbookID
				if distinct {
					luid = fmt.Sprintf("0b5f4c1e-0000-4000-8000-%012d", n)
				}
				body := fmt.Sprintf(`{"resource":"EXTRACTS","event_type":"WorkbookRefreshSucceeded","resource_name":"%s","site_luid":"%s","resource_luid":"%s","created_at":"%s"}`,
					sh.name(), site, luid, created)
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(body)))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.requests = len(res.lat)
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	return nil
}

// endToEnd times events from Tableau's delivery to the message in Slack, with Tableau
// answering in 100 ms and Slack in 50 ms.
func endToEnd(work, bin string, cert *selfsigned.Cert, n int) error {
	w := newWorld(cert)
	defer w.close()
	c, err := startTabhook(bin, work, w)
	if err != nil {
		return err
	}
	defer c.stop()
	for i := range n {
		id := fmt.Sprintf("0b5f4c1e-0000-4000-8000-%012d", i)
		w.sim.AddWorkbook(tableausim.Workbook{ID: id, Name: fmt.Sprintf("Workbook %d", i), WebpageURL: "http://tableauserver/#/workbooks/" + id,
			Project: &tableausim.Ref{ID: "p", Name: "default"}, Owner: tableausim.Ref{ID: tableausim.OwnerUserID}})
	}
	// The listener's webhook, registered directly, as another tool would have.
	w.sim.AddWebhook("load", "WorkbookUpdated", "https://"+c.addr+path)
	w.sim.SetLatency(100 * time.Millisecond)
	w.slack.SetLatency(50 * time.Millisecond)
	var lat []time.Duration
	for i := range n {
		before := len(w.slack.Messages())
		t0 := time.Now()
		id := fmt.Sprintf("0b5f4c1e-0000-4000-8000-%012d", i)
		if _, err := w.sim.Fire(context.Background(), tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: id, ResourceName: fmt.Sprintf("Workbook %d", i)}); err != nil {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(w.slack.Messages()) == before {
			if time.Now().After(deadline) {
				return fmt.Errorf("event %d did not reach Slack", i)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, w.slack.Messages()[before].At.Sub(t0))
		time.Sleep(1100 * time.Millisecond) // one message a second: Slack's pace, no digests
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	// The workbook lookup and the post; the owner lookup too for the first event only
	// (the owner is the same, and cached), so the median event needs two round trips.
	unavoidable := 100*time.Millisecond + 50*time.Millisecond
	fmt.Printf("Event to Slack: %d workbook updates one by one, Tableau REST answering in 100 ms, Slack in 50 ms\n\n", n)
	fmt.Printf("p50 %s   p90 %s   max %s\n", pct(lat, .5).Round(time.Millisecond), pct(lat, .9).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	fmt.Printf("unavoidable round trips: workbook 100 ms + post 50 ms = %s (plus the owner, 100 ms, for the first event only: then cached)\n", unavoidable)
	fmt.Printf("p50 / unavoidable = %.2f  (target <= 2.00)\n", float64(pct(lat, .5))/float64(unavoidable))
	return nil
}

// drain accepts n events (distinct workbooks) while Slack is down, then measures the
// relay's memory with them pending and after a full listing through its control
// socket (and the listing's own peak), then brings Slack back and times the drain:
// until nothing is pending, and how many messages the channel got.
func drain(work, bin string, cert *selfsigned.Cert, conc, n int) error {
	w := newWorld(cert)
	defer w.close()
	w.slack.SetOutage(true)
	metrics, err := freeAddr()
	if err != nil {
		return err
	}
	c, err := startTabhook(bin, work, w, "--metrics-listen", metrics, "--debug-pprof")
	if err != nil {
		return err
	}
	defer c.stop()
	fmt.Fprintf(os.Stderr, "drain: accepting %d events while Slack is down...\n", n)
	var res result
	if err := hammer(&res, "https://"+c.addr+path, w.sim.SiteID(), cert, conc, time.Hour, shape{distinct: true, limit: int64(n)}); err != nil {
		return err
	}
	if err := waitMetric(metrics, "tabhook_spool_pending", func(v float64) bool { return v >= float64(res.requests) }, 2*time.Minute); err != nil {
		return err
	}
	// Memory at rest with the backlog: after the burst, past the relay's release of the
	// index's mapped pages (every 10 s).
	time.Sleep(15 * time.Second)
	pending := rss(c.cmd.Process.Pid)
	anon, file := procStatus(c.cmd.Process.Pid, "RssAnon"), procStatus(c.cmd.Process.Pid, "RssFile")
	heap, _ := readMetric(metrics, "go_memstats_heap_inuse_bytes")
	if p := os.Getenv("LOAD_HEAP_PROFILE"); p != "" {
		if err := fetchTo(p, "http://"+metrics+"/debug/pprof/heap?gc=1"); err != nil {
			return err
		}
	}
	list := exec.Command(bin, "deliveries", "list", "--limit", "0", "-o", "json", "--state-dir", c.state)
	list.Stdout, list.Stderr = io.Discard, os.Stderr
	t0 := time.Now()
	if err := list.Run(); err != nil {
		return fmt.Errorf("deliveries list: %w", err)
	}
	listTook := time.Since(t0)
	var listPeak int64
	if ru, ok := list.ProcessState.SysUsage().(*syscall.Rusage); ok {
		listPeak = ru.Maxrss // KiB on Linux
	}
	afterList := rss(c.cmd.Process.Pid)
	anonList, fileList := procStatus(c.cmd.Process.Pid, "RssAnon"), procStatus(c.cmd.Process.Pid, "RssFile")
	w.slack.SetOutage(false)
	t0 = time.Now()
	err = waitMetric(metrics, "tabhook_spool_pending", func(v float64) bool { return v == 0 }, 30*time.Minute)
	drained := time.Since(t0)
	fmt.Printf("\nDrain: %d events accepted while Slack was down (%d req/s)\n", res.requests, int(res.rate()))
	fmt.Printf("  relay RSS with them pending     %6.1f MB (anonymous %.1f MB, file-backed — the index's mapped pages — %.1f MB; Go heap in use %.1f MB)\n",
		float64(pending)/1024, float64(anon)/1024, float64(file)/1024, heap/1e6)
	fmt.Printf("  relay RSS after a full listing  %6.1f MB (anonymous %.1f MB, file-backed %.1f MB; listing of all took %s; the CLI's peak %0.1f MB)\n",
		float64(afterList)/1024, float64(anonList)/1024, float64(fileList)/1024, listTook.Round(time.Millisecond), float64(listPeak)/1024)
	if err != nil {
		fmt.Printf("  drain: not finished after %s: %v\n", drained.Round(time.Second), err)
		return nil
	}
	fmt.Printf("  Slack back: drained in %s, %d messages to the channel\n", drained.Round(time.Second), len(w.slack.Messages()))
	return nil
}

// waitMetric polls one series of the relay's metrics until ok says so.
func waitMetric(addr, series string, ok func(float64) bool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last float64
	for time.Now().Before(deadline) {
		if v, err := readMetric(addr, series); err == nil {
			last = v
			if ok(v) {
				return nil
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("%s still %v after %s", series, last, limit)
}

func readMetric(addr, series string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s", series)
}

// fetchTo saves what a URL answers in a file (a profile).
func fetchTo(path, url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
