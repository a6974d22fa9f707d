package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/tabhook/tabhook/internal/actions"
	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/render"
)

// actions builds the handler of Slack's clicks (--actions): the relay's store, Slack,
// Tableau and the destinations that can acknowledge an item's alert.
func (r *relay) actions(ctx context.Context) (*actions.Handler, error) {
	sl, ok := r.cfg.Slack.(actions.Slack)
	if !ok {
		return nil, errors.New("--actions: this Slack client cannot update messages")
	}
	for _, s := range r.sites {
		if _, ok := s.Tableau.(actions.Tableau); !ok {
			return nil, errors.New("--actions: this Tableau client cannot start refreshes")
		}
	}
	tb := func(luid string) actions.Tableau {
		if s := r.siteByID(luid); s != nil {
			return s.Tableau.(actions.Tableau)
		}
		return nil
	}
	var ackers []destination.Acknowledger
	for _, d := range r.cfg.Destinations {
		s, err := d.NewSender()
		if err != nil {
			continue // left out of delivery too (senders), and logged there
		}
		if a, ok := s.(destination.Acknowledger); ok {
			ackers = append(ackers, a)
		}
	}
	groups, _ := r.cfg.Slack.(actions.Groups)
	var owners actions.Owners
	if lookup, ok := r.cfg.Slack.(interface {
		UserByEmail(ctx context.Context, email string) (string, error)
	}); ok {
		owners = actions.TableauOwners{Tableau: func(luid string) enrich.Source {
			if s := r.siteByID(luid); s != nil {
				return s.Tableau
			}
			return nil
		}, Slack: lookup}
	}
	cfg := actions.Config{
		SigningSecret: r.cfg.Actions.SigningSecret, Allow: r.cfg.Actions.Allow,
		Store: r.store, Slack: sl, Groups: groups, Owners: owners, Tableau: tb, Logger: r.log,
		OnDone: func(d actions.Done) {
			r.cfg.Metrics.Action(d.Action, d.Result)
			r.cfg.Observe.emit(Event{Type: EvAction, Detail: fmt.Sprintf("%s by %s on %s %s: %s", d.Action, d.User, d.Item.Kind, d.Item.ID, d.Result)})
		},
	}
	if len(ackers) > 0 {
		cfg.Acknowledge = func(ctx context.Context, it render.Item) (bool, error) {
			var errs []error
			for _, a := range ackers {
				errs = append(errs, a.Acknowledge(ctx, it.Site, it.Kind, it.ID))
			}
			return true, errors.Join(errs...)
		}
	}
	return actions.New(ctx, cfg), nil
}
