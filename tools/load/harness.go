package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/tabhook/tabhook/internal/selfsigned"
)

// shape is what every delivery of a load looks like.
type shape struct {
	distinct bool  // each about another workbook (no lookup answered from the cache)
	limit    int64 // stop after this many; 0: run for the duration
	size     int   // pad the body to about this many bytes; 0: Tableau's usual
}

// name is the workbook's name: padded so the body is about size bytes (the rest of a
// body is about 220).
func (s shape) name() string {
	const base = "SafariSample"
	if pad := s.size - 220; pad > 0 {
		return base + " " + strings.Repeat("x", pad)
	}
	return base
}

// harnessRounds measures what the independent harness does: every round loads the
// durable ceiling, the stalled relay (distinct workbooks, Tableau and Slack not
// answering) and the ceiling again, and divides the relay's rate by the mean of the
// ceilings just before and after it — the ceiling drifts on a shared machine. With -pg,
// the same on PostgreSQL. The ratio reported is the median over rounds.
func harnessRounds(o options, work, bin string, cert *selfsigned.Cert) error {
	pairs := [][2]string{{"ceiling", "stalled"}}
	if o.pg != "" {
		pairs = append(pairs, [2]string{"pgceiling", "pgstalled"})
	}
	fmt.Printf("Harness: %d senders, %s rounds, %d rounds, bodies of about %d bytes, every request a distinct workbook and created_at, Tableau and Slack not answering\n\n", o.conc, o.dur, o.rounds, max(o.body, 220))
	for _, p := range pairs {
		var ratios []float64
		for round := range o.rounds {
			var rate [3]float64
			for i, name := range []string{p[0], p[1], p[0]} {
				fmt.Fprintf(os.Stderr, "round %d: loading %s for %s...\n", round+1, name, o.dur)
				r, err := loadTarget(name, work, bin, cert, o)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if r.errors > 0 {
					return fmt.Errorf("%s: %d requests failed", name, r.errors)
				}
				rate[i] = r.rate()
			}
			ceiling := (rate[0] + rate[2]) / 2
			ratios = append(ratios, rate[1]/ceiling)
			fmt.Printf("round %d: %-9s %7.0f req/s, %-9s %7.0f req/s, %-9s %7.0f req/s: ratio %.2f\n", round+1, p[0], rate[0], p[1], rate[1], p[0], rate[2], rate[1]/ceiling)
		}
		fmt.Printf("%s / %s = %.2f (median of rounds %s; target >= 0.80)\n\n", p[1], p[0], median(ratios), fmtAll(ratios))
	}
	return nil
}
