package destination_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tabhook/tabhook/internal/destination"
)

// recorder is a destination type made in a test: what a new package declares.
type recorder struct{ got []string }

func (r *recorder) Digests() bool { return false }
func (r *recorder) Send(_ context.Context, events []destination.Event) error {
	for _, e := range events {
		r.got = append(r.got, e.ID)
	}
	return nil
}

// TestKindRegisters: a kind known only to the registry it is given is parsed, checked,
// shown without its secret, asked which events it takes and built into a Sender — the
// whole of what adding a destination type needs.
func TestKindRegisters(t *testing.T) {
	rec := &recorder{}
	kind := destination.Kind{
		Type: "recorder",
		Settings: []destination.Setting{
			{Key: "url", What: "where", Required: true},
			{Key: "token", File: "token-file", What: "the token", Secret: true, Required: true},
			{Key: "mode", What: "how", Default: "fast"},
		},
		Address: "url",
		Check: func(v map[string]string) error {
			if !strings.HasPrefix(v["token"], "tok_") {
				return fmt.Errorf("token: want tok_ and letters")
			}
			return destination.CheckURL(v["url"])
		},
		Takes:     func(e string) bool { return strings.HasSuffix(e, "Failed") },
		TakesWhat: "failures",
		New: func(c destination.Config, _ *http.Client) (destination.Sender, error) {
			if c.Value("mode") != "fast" {
				return nil, fmt.Errorf("mode %q", c.Value("mode"))
			}
			return rec, nil
		},
	}
	reg := destination.NewRegistry(kind)
	files := map[string]string{"/run/tok": "tok_s3cret\n"}
	read := func(p string) (string, error) { return files[p], nil }
	list, err := reg.Parse(map[string]any{"mine": map[string]any{"type": "recorder", "url": "https://user:pw@r.example.com/in?key=abc", "token-file": "/run/tok"}}, read)
	if err != nil || len(list) != 1 {
		t.Fatalf("Parse: %v %v", err, list)
	}
	c := list[0]
	if c.Type() != "recorder" || c.Value("token") != "tok_s3cret" || c.Value("mode") != "fast" {
		t.Errorf("config: %+v", c.Values)
	}
	if c.Where() != "https://r.example.com/in" {
		t.Errorf("Where() = %s: secrets of the URL shown", c.Where())
	}
	if !c.Takes("WorkbookRefreshFailed") || c.Takes("WorkbookUpdated") {
		t.Error("Takes does not follow the kind's declaration")
	}
	s, err := c.NewSender()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), []destination.Event{{ID: "e1"}}); err != nil || len(rec.got) != 1 {
		t.Errorf("send: %v %v", err, rec.got)
	}

	for _, tc := range []struct {
		entry map[string]any
		want  string
	}{
		{map[string]any{"type": "recorder", "url": "https://r.example.com", "token": "nope"}, "destinations.x.token: want tok_"},
		{map[string]any{"type": "recorder", "token": "tok_a"}, "destinations.x: missing where: set url"},
		{map[string]any{"type": "teams"}, `destinations.x.type: unknown type "teams" (want recorder)`},
		{map[string]any{"type": "recorder", "url": "https://r.example.com", "token": "tok_a", "tokn": "x"}, "destinations.x.tokn: not a setting of a recorder destination (url, token, token-file, mode)"},
	} {
		_, err := reg.Parse(map[string]any{"x": tc.entry}, read)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.entry, err, tc.want)
		}
	}
}
