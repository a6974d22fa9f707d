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
	"github.com/tabhook/tabhook/internal/control"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/store"
)

type deliveriesOptions struct {
	IO          *cli.IOStreams
	Format      string
	Open        func() (control.Deliveries, error)
	State       store.State
	Destination string   // list: only this destination's records
	Configured  []string // the config file's destinations, besides slack
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
	cmd.AddCommand(newCmdDeliveriesList(f, nil), newCmdDeliveriesShow(f, nil), newCmdDeliveriesRetry(f, nil))
	return cmd
}

func deliveriesOpener(f *Factory, cmd *cobra.Command) (func() (control.Deliveries, error), error) {
	if u := stringFlag(cmd.Flags(), "store"); u != "" {
		if err := checkStoreURL(u); err != nil {
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
	return func() (control.Deliveries, error) { return control.Open(dir) }, nil
}

// prepare reads what show and retry share: the event IDs and where the spool is.
func (o *deliveriesOptions) prepare(f *Factory, cmd *cobra.Command, args []string) error {
	ids, err := parseIDs(args)
	if err != nil {
		return err
	}
	open, err := deliveriesOpener(f, cmd)
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
  tabhook deliveries list --destination ops-teams --state pending
  tabhook deliveries list -o json | jq '.[] | select(.attempts > 3)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch store.State(state) {
			case "", store.Pending, store.Delivered, store.Dead:
			default:
				return cli.Usagef("invalid --state %q: use pending, delivered or dead", state)
			}
			open, err := deliveriesOpener(f, cmd)
			if err != nil {
				return err
			}
			opts.Open, opts.State, opts.Format = open, store.State(state), outputFormat(cmd)
			opts.Destination, _ = cmd.Flags().GetString("destination")
			opts.Configured = configuredDestinations(f)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deliveriesListRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only events in this state: pending, delivered or dead")
	cmd.Flags().String("destination", "", `only the records of this destination: "slack" or a name from the config file's destinations`)
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{"pending", "delivered", "dead"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func deliveriesListRun(ctx context.Context, opts *deliveriesOptions) error {
	d, err := opts.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	recs, err := d.List(ctx, opts.State)
	if err != nil {
		return err
	}
	if opts.Destination != "" {
		if err := knownDestination(opts.Destination, opts.Configured, recs); err != nil {
			return err
		}
		recs = slices.DeleteFunc(recs, func(r control.Delivery) bool { return r.Destination != opts.Destination })
	}
	if opts.Format == cli.FormatJSON {
		if recs == nil {
			recs = []control.Delivery{}
		}
		return cli.PrintJSON(opts.IO.Out, recs)
	}
	if len(recs) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No events.")
		return nil
	}
	t := cli.NewTable(opts.IO.Out, opts.IO.OutTTY, "ID", "STATE", "DESTINATION", "EVENT", "NAME", "RECEIVED", "ATTEMPTS", "DETAIL")
	for _, r := range recs {
		t.Row(r.IDString(), r.State, r.Destination, r.Payload.EventType, r.Payload.ResourceName, r.ReceivedAt.Local().Format(time.DateTime), strconv.Itoa(r.Attempts), detail(r))
	}
	return t.Render()
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
func knownDestination(name string, configured []string, recs []control.Delivery) error {
	known := append([]string{"slack"}, configured...)
	for _, r := range recs {
		if !slices.Contains(known, r.Destination) {
			known = append(known, r.Destination)
		}
	}
	if slices.Contains(known, name) {
		return nil
	}
	slices.Sort(known)
	return cli.Usagef("no destination %q: the config file and the records know %s", name, strings.Join(known, ", "))
}

func detail(r control.Delivery) string {
	digest := len(r.Destinations) > 0 && r.Destinations[0].Digest
	switch {
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
			if err := opts.prepare(f, cmd, args); err != nil {
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
		{"Slack:", slack}, {"Delivered:", ts(r.DeliveredAt)}, {"Payload:", string(raw)},
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
			if err := opts.prepare(f, cmd, args); err != nil {
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
		dead, err := d.List(ctx, store.Dead)
		if err != nil {
			return err
		}
		for _, r := range dead {
			ids = append(ids, r.ID)
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
