package actions

import (
	"context"
	"fmt"

	"github.com/tabhook/tabhook/internal/enrich"
)

// TableauOwners finds an item's owner for actions.allow's "owner": the item's owner in
// Tableau, their e-mail there, and the Slack user with that e-mail
// (users.lookupByEmail, as --mention-owner does).
type TableauOwners struct {
	Tableau func(site string) enrich.Source // the item's site's; nil when not served
	Slack   interface {
		UserByEmail(ctx context.Context, email string) (string, error)
	}
}

// OwnerEmail is the e-mail of the item's owner in Tableau ("" when Tableau has none).
func (o TableauOwners) OwnerEmail(ctx context.Context, site, kind, id string) (string, error) {
	tb := o.Tableau(site)
	if tb == nil {
		return "", fmt.Errorf("the site %s is not served", site)
	}
	var ownerID string
	switch kind {
	case "workbook":
		wb, err := tb.Workbook(ctx, id)
		if err != nil {
			return "", err
		}
		ownerID = wb.Owner.ID
	case "datasource":
		ds, err := tb.Datasource(ctx, id)
		if err != nil {
			return "", err
		}
		ownerID = ds.Owner.ID
	default:
		return "", fmt.Errorf("no owner for a %s", kind)
	}
	u, err := tb.User(ctx, ownerID)
	if err != nil {
		return "", err
	}
	return enrich.EmailOf(u), nil
}

// UserByEmail is the Slack user with the e-mail.
func (o TableauOwners) UserByEmail(ctx context.Context, email string) (string, error) {
	return o.Slack.UserByEmail(ctx, email)
}
