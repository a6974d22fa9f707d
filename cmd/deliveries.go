package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/config"
	"github.com/tabhook/tabhook/internal/control"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/pgstore"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/store"
)

type deliveriesOptions struct {
	IO          *cli.IOStreams
	Format      string
	Open        func() (control.Deliveries, error)
	State       store.State
	Destination string    // list: only this destination's records
	Site        string    // list: only this site's events
	Sites       bool      // list: the config serves several sites (a SITE column)
	Configured  []string  // the config file's destinations, besides slack
	Since       time.Time // list: received since
	Limit       int       // list: at most this many; 0: all
	IDs         []uint64
	AllDead     bool
}

func newCmdDeliveries(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deliveries <command>",
		Aliases: []string{"delivery"},
		Short:   "Inspect and retry the events in the relay's spool",
		Long: `See what the relay received and what became of it — pending, delivered, or dead with
the reason — and send dead letters again once their cause is fixed.

Safe while serve or run holds the spool: the commands talk to the running relay through
its control socket in --state-dir; when no relay runs, they open the spool themselves.`,
	}
	cmd.PersistentFlags().String("state-dir", "", "where the spool lives (default $STATE_DIRECTORY, else $XDG_STATE_HOME/tabhook; env TABHOOK_STATE_DIR)")
	cmd.PersistentFlags().String("store", "", "PostgreSQL URL of a store shared by serve replicas, instead of the spool (env TABHOOK_STORE)")
	cmd.AddCommand(newCmdDeliveriesList(f, nil), newCmdDeliveriesShow(f, nil), newCmdDeliveriesRetry(f, nil), newCmdDeliveriesReplicas(f))
	return cmd
}

func deliveriesOpener(f *Factory, cmd *cobra.Command, reading bool) (func() (control.Deliveries, error), error) {
	if u := stringFlag(cmd.Flags(), "store"); u != "" {
		if err := config.CheckStoreURL(u); err != nil {
			return nil, err
		}
		return func() (control.Deliveries, error) { return control.OpenShared(cmd.Context(), u) }, nil
	}
	dir := stringFlag(cmd.Flags(), "state-dir")
	if dir == "" {
		dir = creds.DefaultStateDir(f.Env)
	}
	if dir == "" {
		return nil, &creds.MissingError{Label: "state directory", Flag: "state-dir"}
	}
	if reading {
		return func() (control.Deliveries, error) { return control.OpenForReading(dir) }, nil
	}
	return func() (control.Deliveries, error) { return control.Open(dir) }, nil
}

// prepare reads what show and retry share: the event IDs and where the spool is
// (reading: show, which changes nothing).
func (o *deliveriesOptions) prepare(f *Factory, cmd *cobra.Command, args []string, reading bool) error {
	ids, err := parseIDs(args)
	if err != nil {
		return err
	}
	open, err := deliveriesOpener(f, cmd, reading)
	if err != nil {
		return err
	}
	o.Open, o.IDs, o.Format = open, ids, outputFormat(cmd)
	return nil
}

func parseIDs(args []string) ([]uint64, error) {
	ids := make([]uint64, 0, len(args))
	for _, a := range args {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return nil, cli.Usagef("invalid event ID %q: IDs are numbers, as 'tabhook deliveries list' shows", a)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func newCmdDeliveriesList(f *Factory, runF func(context.Context, *deliveriesOptions) error) *cobra.Command {
	opts := &deliveriesOptions{IO: f.IO}
	var state string
	cmd := &cobra.Command{
		Use:   "list [--state pending|delivered|dead] [--destination NAME]",
		Short: "List the spool's events",
		Long: `List the spool's events, oldest first. An event routed to destinations besides Slack
has a record for each (DESTINATION), delivered, retried and dead-lettered on its own:
retry the one that failed.`,
		Example: `  tabhook deliveries list --state dead
  tabhook deliveries list --destination ops-teams --state pending --since 24h
  tabhook deliveries list --limit 0 -o json | jq '.[] | select(.attempts > 3)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch store.State(state) {
			case "", store.Pending, store.Delivered, store.Dead:
			default:
				return cli.Usagef("invalid --state %q: use pending, delivered or dead", state)
			}
			open, err := deliveriesOpener(f, cmd, true)
			if err != nil {
				return err
			}
			opts.Open, opts.State, opts.Format = open, store.State(state), outputFormat(cmd)
			opts.Destination, _ = cmd.Flags().GetString("destination")
			opts.Configured = configuredDestinations(f)
			opts.Site, _ = cmd.Flags().GetString("site")
			opts.Sites = config.SiteURLs(f.Resolver().Config()) != nil
			if opts.Since, err = parseSince(stringFlag(cmd.Flags(), "since"), time.Now()); err != nil {
				return err
			}
			if opts.Limit, _ = cmd.Flags().GetInt("limit"); opts.Limit < 0 {
				opts.Limit = 0 // all
				if f.IO.OutTTY && opts.Format != cli.FormatJSON {
					opts.Limit = defaultTerminalLimit
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deliveriesListRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only events in this state: pending, delivered or dead")
	cmd.Flags().String("destination", "", `only the records of this destination: "slack" or a name from the config file's destinations`)
	cmd.Flags().String("since", "", "only events received since: a duration (24h, 7d) or a time (2026-11-30T07:00:00Z)")
	cmd.Flags().String("site", "", "only events of this site (its content URL; default for the Default site), in a relay of several sites")
	cmd.Flags().Int("limit", -1, fmt.Sprintf("at most this many, oldest first; 0 for all (default %d on a terminal, else all)", defaultTerminalLimit))
	creds.MarkCommandLineOnly(cmd.Flags(), "since", "limit", "site")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{"pending", "delivered", "dead"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// defaultTerminalLimit is how many events a listing shows on a terminal unless told.
const defaultTerminalLimit = 100

// listPage is how many records a listing asks for at a time: what it holds in memory,
// and what the relay answering it holds.
const listPage = control.MaxPage

func deliveriesListRun(ctx context.Context, opts *deliveriesOptions) error {
	d, err := opts.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	if err := knownDestination(ctx, d, opts.Destination, opts.Configured); err != nil {
		return err
	}
	out := newListing(opts.IO, opts.Format, opts.Sites || opts.Site != "")
	q := store.ListQuery{State: opts.State, Destination: opts.Destination, Since: opts.Since, Site: opts.Site}
	shown, more := 0, false
	for {
		q.Limit = listPage
		if opts.Limit > 0 {
			q.Limit = min(listPage, opts.Limit-shown+1) // one more: is there more?
		}
		page, err := d.List(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range page {
			if opts.Limit > 0 && shown == opts.Limit {
				more = true
				break
			}
			if err := out.add(r); err != nil {
				return err
			}
			shown++
		}
		if more || len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].ID
	}
	if err := out.finish(); err != nil {
		return err
	}
	switch {
	case shown == 0 && opts.Format != cli.FormatJSON:
		fmt.Fprintln(opts.IO.ErrOut, "No events.")
	case more:
		fmt.Fprintf(opts.IO.ErrOut, "Showing the oldest %d; there are more: --limit 0 shows all, --state, --since and --destination narrow it.\n", shown)
	}
	return nil
}

// listing writes records as they come, a page at a time: a JSON array streamed, or
// table rows (aligned on a terminal, where a listing is bounded by --limit).
type listing struct {
	ios   *cli.IOStreams
	json  bool
	sites bool // a SITE column (a relay of several sites)
	n     int
	table *cli.Table
}

func newListing(ios *cli.IOStreams, format string, sites bool) *listing {
	l := &listing{ios: ios, json: format == cli.FormatJSON, sites: sites}
	if !l.json {
		cols := []string{"ID", "STATE", "DESTINATION", "EVENT", "NAME", "RECEIVED", "ATTEMPTS", "DETAIL"}
		if sites {
			cols = slices.Insert(cols, 2, "SITE")
		}
		l.table = cli.NewTable(ios.Out, ios.OutTTY, cols...)
	}
	return l
}

func (l *listing) add(r control.Delivery) error {
	l.n++
	if l.json {
		b, err := json.MarshalIndent(r, "  ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n  "
		if l.n == 1 {
			sep = "[\n  "
		}
		_, err = fmt.Fprint(l.ios.Out, sep, string(b))
		return err
	}
	row := []string{r.IDString(), r.State, r.Destination, r.Payload.EventType, r.Payload.ResourceName, r.ReceivedAt.Local().Format(time.DateTime), strconv.Itoa(r.Attempts), detail(r)}
	if l.sites {
		row = slices.Insert(row, 2, relay.SiteLabel(r.Payload.Site))
	}
	l.table.Row(row...)
	if !l.ios.OutTTY && l.n%listPage == 0 { // a pipe gets rows as they come
		err := l.table.Render()
		l.table = cli.NewTable(l.ios.Out, false)
		return err
	}
	return nil
}

func (l *listing) finish() error {
	if l.json {
		if l.n == 0 {
			_, err := fmt.Fprintln(l.ios.Out, "[]")
			return err
		}
		_, err := fmt.Fprintln(l.ios.Out, "\n]")
		return err
	}
	return l.table.Render()
}

// parseSince reads --since: a duration back from now (24h, 90m, 7d) or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil && n > 0 {
			return now.Add(-time.Duration(n * float64(24*time.Hour))), nil
		}
	}
	return time.Time{}, cli.Usagef("invalid --since %q: want a duration such as 24h or 7d, or a time such as 2026-11-30T07:00:00Z", s)
}

// configuredDestinations are the names under the config file's destinations.
func configuredDestinations(f *Factory) []string {
	v := f.Resolver().Config()
	if v == nil {
		return nil
	}
	m, _ := v.Get("destinations").(map[string]any)
	return slices.Sorted(maps.Keys(m))
}

// knownDestination refuses a --destination that names neither slack, a configured
// destination nor one any record went to: a misspelt name must not read as "no events".
func knownDestination(ctx context.Context, d control.Deliveries, name string, configured []string) error {
	if name == "" || name == "slack" || slices.Contains(configured, name) {
		return nil
	}
	if recs, err := d.List(ctx, store.ListQuery{Destination: name, Limit: 1}); err != nil || len(recs) > 0 {
		return err
	}
	known := append([]string{"slack"}, configured...)
	slices.Sort(known)
	return cli.Usagef("no destination %q: the config file knows %s, and no record went to it", name, strings.Join(known, ", "))
}

func detail(r control.Delivery) string {
	digest := len(r.Destinations) > 0 && r.Destinations[0].Digest
	switch {
	case r.HeldBy != "" && r.LeaseUntil != nil:
		return fmt.Sprintf("held by %s until %s", r.HeldBy, r.LeaseUntil.Local().Format(time.TimeOnly))
	case r.State == string(store.Dead):
		return r.DeadReason
	case r.State == string(store.Delivered) && digest:
		return "in a digest"
	case r.LastError != "":
		return r.LastError
	}
	return ""
}

func newCmdDeliveriesShow(f *Factory, runF func(context.Context, *deliveriesOptions) error) *cobra.Command {
	opts := &deliveriesOptions{IO: f.IO}
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one event: its payload, state, attempts and errors",
		Long: `Show one record of the spool (or the shared store): the event it is about, where it
goes, its state, attempts, last error or dead-letter reason, the Slack message it
became, and the payload as Tableau delivered it. ID is the number 'deliveries list'
shows. -o json prints every field (docs/deliveries.md).`,
		Example: `  tabhook deliveries show 42
  tabhook deliveries show 42 -o json | jq .payload`,
		Args: exactlyOneArg("event ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.prepare(f, cmd, args, true); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deliveriesShowRun(cmd.Context(), opts)
		},
	}
}

func deliveriesShowRun(ctx context.Context, opts *deliveriesOptions) error {
	d, err := opts.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	r, err := d.Get(ctx, opts.IDs[0])
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no event %d in the spool (delivered events are pruned after their retention)", opts.IDs[0])
	}
	if err != nil {
		return err
	}
	if opts.Format == cli.FormatJSON {
		return cli.PrintJSON(opts.IO.Out, r)
	}
	t := cli.NewTable(opts.IO.Out, true)
	ts := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "-"
		}
		return t.Local().Format(time.RFC3339)
	}
	nextTry := "" // only an event still to be delivered has a next try
	if r.State == string(store.Pending) {
		nextTry = ts(r.NextTry)
	}
	raw, _ := json.Marshal(r.Payload)
	slack := ""
	for _, d := range r.Destinations {
		slack = strings.TrimSpace(d.Channel + " " + d.MessageTS)
	}
	for _, kv := range [][2]string{
		{"ID:", r.IDString()}, {"Identity:", r.Identity}, {"Destination:", r.Destination}, {"State:", r.State}, {"Event:", r.Payload.EventType}, {"Resource:", r.Payload.Resource + " " + r.Payload.ResourceLUID},
		{"Name:", r.Payload.ResourceName}, {"Site:", r.Payload.SiteLUID}, {"Created:", r.Payload.CreatedAt}, {"Received:", ts(&r.ReceivedAt)},
		{"Attempts:", strconv.Itoa(r.Attempts)}, {"Next try:", nextTry}, {"Last error:", r.LastError}, {"Dead because:", r.DeadReason},
		{"Slack:", slack}, {"Delivered:", ts(r.DeliveredAt)}, {"Held by:", heldBy(r)}, {"Payload:", string(raw)},
	} {
		if kv[1] != "" {
			t.Row(kv[0], kv[1])
		}
	}
	return t.RenderRows()
}

func newCmdDeliveriesRetry(f *Factory, runF func(context.Context, *deliveriesOptions) error) *cobra.Command {
	opts := &deliveriesOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "retry ID... | --all-dead",
		Short: "Send dead letters again",
		Long: `Make dead events pending again so the relay delivers them now (or at its next start
when none runs). Fix the cause first: 'tabhook deliveries list --state dead' shows it.
A delivered event is never retried: that would post it twice.`,
		Example: `  tabhook deliveries retry 42 43
  tabhook deliveries retry --all-dead`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 0) == !opts.AllDead {
				return cli.Usagef("give event IDs or --all-dead")
			}
			if err := opts.prepare(f, cmd, args, false); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deliveriesRetryRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.AllDead, "all-dead", false, "retry every dead event")
	creds.MarkCommandLineOnly(cmd.Flags(), "all-dead")
	return cmd
}

func deliveriesRetryRun(ctx context.Context, opts *deliveriesOptions) error {
	d, err := opts.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	ids := opts.IDs
	if opts.AllDead {
		q := store.ListQuery{State: store.Dead, Limit: listPage}
		for {
			dead, err := d.List(ctx, q)
			if err != nil {
				return err
			}
			for _, r := range dead {
				ids = append(ids, r.ID)
			}
			if len(dead) < q.Limit {
				break
			}
			q.After = dead[len(dead)-1].ID
		}
	}
	retried := []control.Delivery{}
	var errs []string
	for _, id := range ids {
		r, err := d.Retry(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Sprintf("event %d: %v", id, err))
			continue
		}
		retried = append(retried, r)
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s pending again.\n", plural(len(retried), "event"))
	if opts.Format == cli.FormatJSON {
		if err := cli.PrintJSON(opts.IO.Out, retried); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// heldBy says who holds a pending event's claim, and until when; "" when nobody does.
func heldBy(r control.Delivery) string {
	if r.HeldBy == "" || r.LeaseUntil == nil {
		return ""
	}
	return fmt.Sprintf("%s, until %s", r.HeldBy, r.LeaseUntil.Local().Format(time.RFC3339))
}

func newCmdDeliveriesReplicas(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "replicas --store URL",
		Short: "List the relays that share a store: who is alive, since when, in which role",
		Long: `List the relays (serve and run replicas) that joined the shared store (--store), live
ones first. A replica is live exactly while its database session is: one killed with -9
is shown as gone at once. ROLE says what it serves: run replicas share one set of
webhooks (their name prefix and URL), serve replicas a listener path.`,
		Example: `  tabhook deliveries replicas --store postgres://tabhook@db.example.com/tabhook`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			u := stringFlag(cmd.Flags(), "store")
			if u == "" {
				return cli.Usagef("replicas share a store: give --store (TABHOOK_STORE), the PostgreSQL URL they use")
			}
			if err := config.CheckStoreURL(u); err != nil {
				return err
			}
			st, err := pgstore.Open(cmd.Context(), u, pgstore.Options{})
			if err != nil {
				return err
			}
			defer st.Close()
			reps, err := st.Replicas(cmd.Context())
			if err != nil {
				return err
			}
			if outputFormat(cmd) == cli.FormatJSON {
				if reps == nil {
					reps = []pgstore.Replica{}
				}
				return cli.PrintJSON(f.IO.Out, reps)
			}
			if len(reps) == 0 {
				fmt.Fprintln(f.IO.ErrOut, "No replica has joined this store.")
				return nil
			}
			t := cli.NewTable(f.IO.Out, f.IO.OutTTY, "REPLICA", "VERSION", "SINCE", "STATE", "ROLE")
			for _, r := range reps {
				state := "live"
				if !r.Live {
					state = "gone"
				}
				role := "serve " + strings.TrimPrefix(r.Group, "serve ")
				if !strings.HasPrefix(r.Group, "serve ") {
					role = "run: webhooks " + r.Group
				}
				t.Row(r.Name, r.Version, r.Since.Local().Format(time.DateTime), state, role)
			}
			return t.Render()
		},
	}
}
