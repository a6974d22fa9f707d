package pgstore

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tabhook/tabhook/internal/store/storetest"
)

var writeRelease = flag.Bool("write-release", false, "write testdata/release-*.sql (the state this release leaves) anew, with pg_dump")

// releaseFile is a database a release's replicas left, dumped with pg_dump (its
// schema name replaced by {{schema}}): made by `go test ./internal/pgstore -run
// TestUpgradeKeepsData -write-release` when a release changes the schema, and kept
// from then on.
const releaseFile = "testdata/release-2026-12.sql"

// TestUpgradeKeepsData: the tables a release left (schema and rows as its code wrote
// them) open with today's code — migrated where the schema moved on — keep every
// record and deliver the pending ones.
func TestUpgradeKeepsData(t *testing.T) {
	if *writeRelease {
		dumpRelease(t)
	}
	sql, err := os.ReadFile(releaseFile)
	if err != nil {
		t.Fatal(err)
	}
	name := schema(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, strings.ReplaceAll(string(sql), "{{schema}}", name)); err != nil {
		t.Fatalf("load the release's tables: %v", err)
	}
	s := open(t, name)
	defer s.Close()
	storetest.CheckRelease(t, s)
}

// dumpRelease writes the release's state into a schema of its own and dumps it.
func dumpRelease(t *testing.T) {
	name := schema(t)
	s := open(t, name)
	storetest.WriteRelease(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pg_dump", "--schema="+name, "--inserts", "--no-owner", "--no-privileges", "--no-comments", testURL()).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, `\`), strings.HasPrefix(line, "--"), strings.HasPrefix(line, "SET "),
			strings.HasPrefix(line, "SELECT pg_catalog.set_config"), strings.HasPrefix(line, "CREATE SCHEMA"):
			continue
		}
		keep = append(keep, strings.ReplaceAll(line, name+".", "{{schema}}."))
	}
	dump := "-- The tables tabhook's PostgreSQL store left at the 2026-12 release (schema version 5),\n-- written by TestUpgradeKeepsData -write-release. Kept as it is: it is what an upgrade opens.\n" +
		strings.TrimSpace(strings.Join(keep, "\n")) + "\n"
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(releaseFile, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
}
