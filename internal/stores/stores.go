// Package stores opens the store a relay keeps its events in: PostgreSQL when a URL is
// given (replicas share it), else the embedded spool in the state directory. The relay
// sees store.Store and the capabilities store names (Shared, Recovered), never a
// store's own package.
package stores

import (
	"context"
	"log/slog"

	"github.com/tabhook/tabhook/internal/pgstore"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/store"
)

// Options are what either store needs.
type Options struct {
	URL      string // postgres://…: the shared store; "": the spool in StateDir
	StateDir string
	Version  string // this tabhook's, for the list of replicas
	Logger   *slog.Logger
	// The spool's: its backlog cap, and what it says of its own work.
	MaxSize    int64
	OnError    func(error)
	OnRefusing func(refusing bool, why error)
	OnCompact  func(before, after int64)
}

// Open opens the store the options name.
func Open(ctx context.Context, o Options) (store.Store, error) {
	if o.URL != "" {
		return pgstore.Open(ctx, o.URL, pgstore.Options{Version: o.Version, Logger: o.Logger})
	}
	return spool.Open(o.StateDir, spool.Options{MaxSize: o.MaxSize, OnError: o.OnError, OnRefusing: o.OnRefusing, OnCompact: o.OnCompact})
}

// Redact is a store URL without its password, for logs and summaries.
func Redact(url string) string { return pgstore.Redact(url) }
