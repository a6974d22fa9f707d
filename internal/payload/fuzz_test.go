package payload

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input panics; anything accepted has the required fields and a stable key.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte(`{"event_type":"X","resource_luid":"r","site_luid":"s","text":"<b>"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Parse(body)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if p.EventType == "" || p.ResourceLUID == "" || p.SiteLUID == "" {
			t.Fatalf("accepted %+v without required fields", p)
		}
		if k := p.Key(); k != p.Key() || len(k) > 32+1+32 || len(k) < 33 {
			t.Fatalf("unstable or unbounded key %q", k)
		}
	})
}
