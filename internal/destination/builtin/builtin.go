// Package builtin lists the destination types tabhook ships: adding one is a package
// under internal/destination that exports its Kind, and one line here.
package builtin

import (
	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/destination/pagerduty"
	"github.com/tabhook/tabhook/internal/destination/teams"
	"github.com/tabhook/tabhook/internal/destination/webhook"
)

// Registry is every built-in destination type, in the order messages list them.
func Registry() *destination.Registry {
	return destination.NewRegistry(
		teams.Kind(),
		pagerduty.Kind(),
		webhook.Kind(),
	)
}
