package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"a longer text", 5, "a lo…"},
		{"東京📈é東京📈é", 4, "東京📈…"},
		{"東京", 1, "…"},
		{"x", 0, ""},
	}
	for _, c := range cases {
		if got := Cut(c.in, c.max); got != c.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestCutBytes(t *testing.T) {
	s := strings.Repeat("東京📈é", 10)
	for max := 0; max < len(s)+2; max++ {
		got := CutBytes(s, max)
		if len(got) > max || !utf8.ValidString(got) || strings.ContainsRune(got, utf8.RuneError) {
			t.Fatalf("CutBytes(…, %d) = %q (%d bytes)", max, got, len(got))
		}
	}
}

func TestCleanAndLine(t *testing.T) {
	cases := []struct{ in, clean, line string }{
		{"plain name", "plain name", "plain name"},
		{"a\n- listitem\n1. numbered", "a\n- listitem\n1. numbered", "a - listitem 1. numbered"},
		{"evil\u202Egpj.exe", "evilgpj.exe", "evilgpj.exe"},
		{"bell\x07 and\x1b[31m red", "bell and[31m red", "bell and[31m red"},
		{"tab\there\r\nthere", "tab\there\nthere", "tab here there"},
		{"isolate\u2066x\u2069", "isolatex", "isolatex"},
	}
	for _, c := range cases {
		if got := Clean(c.in); got != c.clean {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.clean)
		}
		if got := Line(c.in); got != c.line {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.line)
		}
	}
}

// FuzzCut: whatever the input and limit, a cut is valid UTF-8 within the limit, holds
// no replacement character the input did not, and is the input when it fits.
func FuzzCut(f *testing.F) {
	for _, s := range []string{"", "abc", "東京📈é", strings.Repeat("東京📈é", 1500), "\xff\xfe", "a\u202Eb"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 5000
		if max < 0 {
			max = -max
		}
		s = Clean(s)
		for _, got := range []string{Cut(s, max), CutBytes(s, max)} {
			if !utf8.ValidString(got) {
				t.Fatalf("invalid UTF-8: %q", got)
			}
			if strings.Count(got, "\uFFFD") > strings.Count(s, "\uFFFD") {
				t.Fatalf("a character was cut in half: %q", got)
			}
		}
		if n := utf8.RuneCountInString(Cut(s, max)); n > max {
			t.Fatalf("Cut(…, %d) has %d characters", max, n)
		}
		if len(CutBytes(s, max)) > max {
			t.Fatalf("CutBytes(…, %d) is %d bytes", max, len(CutBytes(s, max)))
		}
		if utf8.RuneCountInString(s) <= max && Cut(s, max) != s {
			t.Fatalf("a text that fits was changed")
		}
		if l := Line(s); strings.ContainsAny(l, "\n\r\u202E") {
			t.Fatalf("Line left a break or an override: %q", l)
		}
	})
}
