package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Output formats.
const (
	FormatTable = "table"
	FormatJSON  = "json"
)

// CheckFormat validates an -o value.
func CheckFormat(f string) error {
	switch f {
	case FormatTable, FormatJSON:
		return nil
	}
	return Usagef("invalid output format %q: use table or json", f)
}

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Table prints rows aligned under a header on a terminal, and as tab-separated values
// without a header otherwise, so scripts can cut and awk them.
type Table struct {
	w      io.Writer
	tty    bool
	header []string
	rows   [][]string
}

// NewTable starts a table for the given stream.
func NewTable(w io.Writer, tty bool, header ...string) *Table {
	return &Table{w: w, tty: tty, header: header}
}

// Row adds one row. Cells are made printable: names come from Tableau's publishers.
func (t *Table) Row(cells ...string) {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = Printable(strings.ReplaceAll(c, "\t", " ")) // a tab would split a TSV column
	}
	t.rows = append(t.rows, out)
}

// Render writes the table.
func (t *Table) Render() error {
	if len(t.rows) == 0 {
		return nil // a header over nothing says less than the "none" message on stderr
	}
	clean := strings.NewReplacer("\t", " ", "\n", " ")
	for _, r := range t.rows {
		for i := range r {
			r[i] = clean.Replace(r[i]) // a tab or newline in a name must not break the columns
		}
	}
	if !t.tty {
		for _, r := range t.rows {
			if _, err := fmt.Fprintln(t.w, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(t.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// RenderRows writes the rows aligned, without a header, whatever the stream.
func (t *Table) RenderRows() error {
	tw := tabwriter.NewWriter(t.w, 0, 4, 1, ' ', 0)
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// Printable makes text safe to write to a person's terminal: control characters
// (ESC sequences that clear the screen or set the title, carriage returns that hide
// what came before, bells) and bidirectional overrides are shown escaped, as \x1b or
// \u202e, instead of acting. JSON output needs none of this: it is escaped already.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !unsafeRune(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == utf8.RuneError
}
