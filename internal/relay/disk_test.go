package relay_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
)

// smallDisk mounts a tmpfs of the given size for the test. Mounting needs root, as on
// this project's machines and CI; elsewhere the test is skipped, never in CI.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a %s tmpfs: %v %s", size, err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v %s); run as root to test a full disk", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestFullDiskStillDelivers: the state directory fills to ENOSPC while Slack is down.
// /readyz turns before deliveries are refused; the refused ones get 503 (Tableau
// retries); every acknowledged event is delivered once Slack is back, without anyone
// freeing space.
func TestFullDiskStillDelivers(t *testing.T) {
	dir := smallDisk(t, "3m")
	w := newWorld(t)
	cfg := w.config(dir)
	cfg.Ready, cfg.HealthEvery = nil, 10*time.Millisecond
	// Retries at the production pace: a retry storm at test speed is not the fault here.
	cfg.Service.MinBackoff, cfg.Service.MaxBackoff = time.Second, 2*time.Second
	// Batches in proportion to a 3 MB disk: a digest of 1,000 rewrites about a megabyte
	// of index in one transaction, a third of this disk at once — the index would jump
	// from below /readyz's threshold to full between two checks.
	cfg.Service.DigestMax = 50
	w.slack.SetOutage(true)
	w.start2(cfg)
	eventually(t, "the listener", func() bool { return w.readyz() != 0 })
	client := w.httpsClient()
	acked, refused := 0, 0
	readyTurned := -1 // deliveries acknowledged when /readyz first said 503 for the disk
	for i := 0; refused < 20 && i < 20000; i++ {
		switch code := postDelivery(t, w, client, i); code {
		case http.StatusOK:
			acked++
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("delivery %d: HTTP %d", i, code)
		}
		if readyTurned < 0 && i%10 == 0 && diskNotReady(t, w) {
			readyTurned = acked
		}
	}
	if refused == 0 {
		t.Fatal("the disk never filled")
	}
	if readyTurned < 0 || readyTurned >= acked {
		t.Errorf("/readyz turned after %d of %d acknowledged deliveries: not before the disk was full", readyTurned, acked)
	}
	w.slack.SetOutage(false)
	eventually(t, fmt.Sprintf("all %d acknowledged events delivered", acked), func() bool { return w.count(relay.EvDelivered) == acked })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged, %d refused; /readyz turned after %d", acked, refused, readyTurned)
}

// diskNotReady: /readyz answers 503 naming the disk among the failing checks.
func diskNotReady(t *testing.T, w *world) bool { return notReadyFor(t, w, "disk") }

// postDelivery posts one distinct delivery of a workbook update and returns the status.
func postDelivery(t *testing.T, w *world, client *http.Client, i int) int {
	t.Helper()
	body := fmt.Sprintf(`{"resource":"WORKBOOK","event_type":"WorkbookUpdated","resource_name":"SafariSample","site_luid":"%s","resource_luid":"%s","created_at":"2026-11-30T09:00:00.%06dZ"}`,
		w.sim.SiteID(), tableausim.WorkbookID, i)
	resp, err := client.Post(w.public, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// notReadyFor: /readyz answers 503 naming this component among the failing checks.
func notReadyFor(t *testing.T, w *world, component string) bool {
	resp, err := w.httpsClient().Get(w.public[:strings.LastIndex(w.public, "/tableau")] + "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var r struct{ Failing []string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode == http.StatusServiceUnavailable && slices.Contains(r.Failing, component)
}

// TestBacklogCapClearsWithoutRestart: a small --max-spool-size is reached while Slack
// is down; deliveries get 503 and /readyz names intake at once; Slack comes back,
// everything acknowledged is delivered, and new deliveries are accepted again — no
// restart, no prune, though the spool's files only grew.
func TestBacklogCapClearsWithoutRestart(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir())
	cfg.Ready, cfg.MaxSpoolSize = nil, 16<<10
	cfg.Metrics = relay.NewMetrics()
	cfg.Service.MinBackoff, cfg.Service.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	w.slack.SetOutage(true)
	w.start2(cfg)
	eventually(t, "the listener", func() bool { return w.readyz() != 0 })
	client := w.httpsClient()
	acked, refused, i := 0, 0, 0
	for ; refused < 5 && i < 2000; i++ {
		switch code := postDelivery(t, w, client, i); code {
		case http.StatusOK:
			acked++
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("delivery %d: HTTP %d", i, code)
		}
	}
	if refused == 0 || acked == 0 {
		t.Fatalf("%d acknowledged, %d refused: the cap was never reached", acked, refused)
	}
	if !notReadyFor(t, w, relay.CompIntake) {
		t.Error("/readyz does not name intake while deliveries are refused")
	}
	if got := metricValue(t, cfg.Metrics, `tabhook_events_refused_total{reason="backlog_cap"}`); got != float64(refused) {
		t.Errorf("tabhook_events_refused_total{reason=backlog_cap} = %v, want %d", got, refused)
	}
	w.slack.SetOutage(false)
	eventually(t, fmt.Sprintf("all %d acknowledged events delivered", acked), func() bool { return w.count(relay.EvDelivered) == acked })
	if code := postDelivery(t, w, client, i); code != http.StatusOK {
		t.Fatalf("a new delivery after the backlog was delivered: HTTP %d, want 200", code)
	}
	if notReadyFor(t, w, relay.CompIntake) {
		t.Error("/readyz still names intake after the backlog was delivered")
	}
	eventually(t, "the new event delivered", func() bool { return w.count(relay.EvDelivered) == acked+1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}
