// Package demo runs the whole relay against the built-in Tableau simulator: webhooks
// are registered, real deliveries flow through the listener, the spool, enrichment and
// rendering, and the messages are posted to a Slack fake (or to Slack for real).
package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/selfsigned"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

// Options configure the demo.
type Options struct {
	Out          io.Writer // what a person reads
	Observe      relay.Observer
	Flush        func() // called before the closing summary, to finish the event lines
	SlackToken   string // post for real when set
	SlackChannel string
	SlackAPIURL  string
	Logger       *slog.Logger
	UserAgent    string
	// Sites are more sites (content URLs) besides the Default site: the relay serves
	// them all, each with its own token, and each gets an event of its own.
	Sites []string
}

// The events the demo sends: a workbook update with its preview, a refresh that
// fails (with Tableau's reason, the owner mentioned, a data quality warning) and then
// recovers in the failure's thread, a deletion and a user event.
func events() []tableausim.Event {
	now := time.Now().UTC().Truncate(time.Second)
	return []tableausim.Event{
		{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: now},
		{Type: "DatasourceRefreshFailed", ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource", CreatedAt: now.Add(time.Second)},
		{Type: "DatasourceRefreshSucceeded", ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource", CreatedAt: now.Add(2 * time.Second)},
		{Type: "WorkbookDeleted", ResourceLUID: "5998aaaf-1abe-4d38-b4d9-bc53e85bdd13", ResourceName: "Superstore (Q3 draft)", CreatedAt: now.Add(3 * time.Second)},
		{Type: "AdminPromoted", ResourceLUID: tableausim.AdminUserID, ResourceName: "alice", CreatedAt: now.Add(4 * time.Second)},
	}
}

// demoOwner is the sample content's owner as the Slack fake knows them.
const demoOwner = "U0BOBSMITH"

// demoOps is who clicks "Run refresh now" on the demo's failure (the Slack fake
// signs the click with demoSigningSecret, as Slack would).
const (
	demoOps           = "U0OPSALICE"
	demoSigningSecret = "demo-signing-secret-5f1c9a"
)

// Run runs the demo and returns once every event has been posted and the relay has
// shut down (deleting its webhooks).
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cert, err := selfsigned.Generate(time.Hour, "127.0.0.1")
	if err != nil {
		return err
	}
	server := tableausim.NewServer(tableausim.Options{DeliveryTLS: &tls.Config{RootCAs: cert.Pool}, RetryDelay: 200 * time.Millisecond}, o.Sites...)
	sim := server.Site("")
	tsrv := server.Start()
	defer tsrv.Close()
	clients := map[string]*tableau.Client{}
	for _, s := range server.Sites() {
		name := "demo"
		if s.ContentURL() != "" {
			name += "-" + s.ContentURL() // a token per site: each holds its own session
		}
		s.AddPAT(tableausim.PAT{Name: name, Secret: name + "-secret"})
		c, err := tableau.New(tableau.Config{Server: tsrv.URL, Site: s.ContentURL(), PATName: name, PATSecret: name + "-secret", UserAgent: o.UserAgent, Logger: o.Logger})
		if err != nil {
			return err
		}
		clients[s.ContentURL()] = c
	}
	tc := clients[""]

	channel := o.SlackChannel
	var slackAPI relay.SlackAPI
	var fake *slackfake.Fake
	if o.SlackToken == "" {
		fake = slackfake.New("xoxb-demo").Start()
		defer fake.Close()
		fake.AddUser("bob@example.com", demoOwner)
		channel = "#alerts"
		slackAPI = slackout.New(slackout.Options{Token: "xoxb-demo", APIURL: fake.APIURL(), PerChannel: rate.Inf})
	} else {
		if channel == "" {
			return errors.New("posting the demo to Slack needs --slack-channel")
		}
		slackAPI = slackout.New(slackout.Options{Token: o.SlackToken, APIURL: o.SlackAPIURL})
	}
	rec := &recorder{SlackAPI: slackAPI}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	stateDir, err := os.MkdirTemp("", "tabhook-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)

	path := "/tableau/demo-7f3a9c1e5b2d4f60"
	delivered := make(chan struct{}, 16)
	acted := make(chan relay.Event, 1)
	ready := make(chan struct{})
	observe := func(e relay.Event) {
		if o.Observe != nil {
			o.Observe(e)
		}
		switch e.Type {
		case relay.EvDelivered, relay.EvDead:
			delivered <- struct{}{}
		case relay.EvAction:
			select {
			case acted <- e:
			default:
			}
		}
	}
	cfg := relay.Config{
		Tableau: tc, Slack: rec, Channel: channel, StateDir: stateDir,
		Server: relay.ServerConfig{Certificate: &cert.TLS, Listener: ln}, Path: path,
		Manage: true, PublicURL: "https://" + ln.Addr().String() + path, NamePrefix: "tabhook-demo", Verify: true,
		Events:  []string{"WorkbookUpdated", "DatasourceRefreshFailed", "DatasourceRefreshSucceeded", "WorkbookDeleted", "AdminPromoted"},
		Observe: observe, Logger: o.Logger, DrainTimeout: 5 * time.Second,
		Ready:        func(string) { close(ready) },
		MentionOwner: true, QualityWarnings: true,
	}
	for _, s := range append([]string{""}, o.Sites...) {
		if len(o.Sites) > 0 {
			cfg.Sites = append(cfg.Sites, relay.Site{Name: s, Tableau: clients[s], Path: relay.SitePath(path, s), PublicURL: relay.SitePath(cfg.PublicURL, s)})
		}
	}
	if fake != nil {
		// Buttons on the failure, and a click on one (a real Slack's clicks would need
		// its app's Interactivity URL pointed at this machine).
		cfg.Actions = &relay.ActionsConfig{SigningSecret: demoSigningSecret, Allow: []string{demoOps}}
	}
	fmt.Fprintf(o.Out, "Tableau simulator at %s; relay listening at %s; Slack channel %s\n\n", tsrv.URL, cfg.PublicURL, channel)

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- relay.Run(rctx, cfg) }()
	select {
	case <-ready:
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}

	type fired struct {
		site *tableausim.Sim
		ev   tableausim.Event
	}
	var all []fired
	for _, ev := range events() {
		all = append(all, fired{sim, ev})
	}
	for i, s := range o.Sites {
		all = append(all, fired{server.Site(s), tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.SuperstoreID, ResourceName: "Superstore", CreatedAt: time.Now().UTC().Add(time.Duration(10+i) * time.Second)}})
	}
	for _, f := range all {
		ev := f.ev
		if _, err := f.site.Fire(ctx, ev); err != nil {
			return err
		}
		select {
		case <-delivered:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("event %s was not delivered within 30s", ev.Type)
		case <-ctx.Done():
			return ctx.Err()
		}
		if ev.Type == "DatasourceRefreshFailed" && fake != nil {
			if err := click(ctx, o.Out, fake, cfg.PublicURL, cert, acted); err != nil {
				return err
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		return err
	}
	if o.Flush != nil {
		o.Flush()
	}
	fmt.Fprintf(o.Out, "\nThe messages, as Slack shows them:\n\n")
	posts := rec.posts()
	for _, p := range posts {
		if p.thread != "" {
			continue
		}
		fmt.Fprint(o.Out, render.Plain(p.msg))
		if p.edits > 0 {
			fmt.Fprintf(o.Out, "    ↺ updated later (chat.update) to: %s\n", p.updated.Text)
		}
		for _, u := range p.uploads {
			fmt.Fprintf(o.Out, "    ↳ in thread: %s (%d-byte PNG preview)\n", u.name, u.size)
		}
		for _, r := range posts {
			if r.thread == p.ts {
				fmt.Fprintln(o.Out, "    ↳ in thread:")
				fmt.Fprint(o.Out, indent(render.Plain(r.msg), "    "))
			}
		}
		fmt.Fprintln(o.Out)
	}
	left := 0
	for _, s := range server.Sites() {
		left += len(s.Webhooks())
	}
	where := "the simulated site"
	if len(o.Sites) > 0 {
		where = fmt.Sprintf("the %d simulated sites", len(o.Sites)+1)
	}
	fmt.Fprintf(o.Out, "Done: %d events posted; the relay deleted its webhooks on exit (%d left on %s).\n", len(posts), left, where)
	return nil
}

func indent(s, by string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "")
}

type upload struct {
	name string
	size int
}

type post struct {
	ts      string
	thread  string         // the message it replies to
	msg     render.Message // as first posted
	updated render.Message // as last rewritten
	uploads []upload
	edits   int
}

// recorder passes calls to Slack and remembers what was posted, to show it after.
type recorder struct {
	relay.SlackAPI
	mu  sync.Mutex
	log []post
}

func (r *recorder) Post(ctx context.Context, ch string, m render.Message, ids ...string) (string, error) {
	ts, err := r.SlackAPI.Post(ctx, ch, m, ids...)
	if err == nil {
		r.mu.Lock()
		r.log = append(r.log, post{ts: ts, msg: m})
		r.mu.Unlock()
	}
	return ts, err
}

func (r *recorder) Reply(ctx context.Context, ch, thread string, m render.Message, ids ...string) (string, error) {
	ts, err := r.SlackAPI.Reply(ctx, ch, thread, m, ids...)
	if err == nil {
		r.mu.Lock()
		r.log = append(r.log, post{ts: ts, thread: thread, msg: m})
		r.mu.Unlock()
	}
	return ts, err
}

// Update shows the message as it was rewritten.
func (r *recorder) Update(ctx context.Context, ch, ts string, m render.Message) error {
	err := r.SlackAPI.Update(ctx, ch, ts, m)
	if err == nil {
		r.mu.Lock()
		for i := range r.log {
			if r.log[i].ts == ts {
				r.log[i].updated, r.log[i].edits = m, r.log[i].edits+1
			}
		}
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) Upload(ctx context.Context, ch, threadTS, filename, title string, data []byte) error {
	err := r.SlackAPI.Upload(ctx, ch, threadTS, filename, title, data)
	if err == nil {
		r.mu.Lock()
		for i := range r.log {
			if r.log[i].ts == threadTS {
				r.log[i].uploads = append(r.log[i].uploads, upload{filename, len(data)})
			}
		}
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) posts() []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]post(nil), r.log...)
}

// click is someone clicking "Run refresh now" on the failure's message: the Slack fake
// sends the signed request Slack would; the relay starts the refresh and says so on the
// message.
func click(ctx context.Context, out io.Writer, fake *slackfake.Fake, public string, cert *selfsigned.Cert, acted <-chan relay.Event) error {
	msg, ok := fake.WithButton(render.ActionRefresh)
	if !ok {
		return errors.New("the failure's message has no buttons")
	}
	req, err := fake.Request(strings.TrimSuffix(public, "/")+"/slack/actions", demoSigningSecret, slackfake.Click{User: demoOps, Channel: msg.Channel, TS: msg.TS, ActionID: render.ActionRefresh})
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}}
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("click: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("click: the relay answered %s", resp.Status)
	}
	select {
	case <-acted:
		fmt.Fprintf(out, "    (the demo clicked \"Run refresh now\" on that message as %s, in a request signed as Slack signs it)\n", demoOps)
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("the click was not acted on within 30s")
	case <-ctx.Done():
		return ctx.Err()
	}
}
