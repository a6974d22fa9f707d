// Package text makes untrusted text (names, Tableau's error notes) safe to show and
// short enough to send: one way to shorten, for every destination and the terminal.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ellipsis ends a shortened text.
const Ellipsis = "…"

// Cut shortens s to at most max characters (runes), the last one an ellipsis. It
// never splits a character: a multibyte character is kept whole or left out.
func Cut(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + Ellipsis
		}
		n++
	}
	return s
}

// CutBytes shortens s to at most max bytes of UTF-8, the last character an ellipsis,
// on a character boundary: for limits counted in bytes.
func CutBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max < len(Ellipsis) {
		return ""
	}
	end := max - len(Ellipsis)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + Ellipsis
}

// Clean drops what must not reach a reader from untrusted text: control characters
// (line breaks and tabs stay) and the bidirectional controls that reorder what is
// shown (U+202E turns "gpj.exe" into "exe.jpg"). Invalid UTF-8 becomes U+FFFD.
func Clean(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if keep(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Line is Clean for a one-line value — a name, a project: line breaks and tabs
// become single spaces, as Slack shows a name, so a name cannot start a list, a
// heading or a quote on a line of its own.
func Line(s string) string {
	s = Clean(s)
	if !strings.ContainsAny(s, "\r\n\t\u2028\u2029\u0085") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == '\r' || r == '\n' || r == '\t' || r == '\u2028' || r == '\u2029' || r == '\u0085'
	}), " ")
}

func clean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !keep(r) {
			return false
		}
	}
	return true
}

func keep(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return true
	case bidi(r):
		return false
	case unicode.IsControl(r):
		return false
	}
	return true
}

// bidi: the explicit directional embeddings, overrides and isolates, and the marks.
func bidi(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') || r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// Distance is the Levenshtein distance between a and b (in bytes): how far a typo
// is from what was meant.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
