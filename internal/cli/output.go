package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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

// Row adds one row.
func (t *Table) Row(cells ...string) { t.rows = append(t.rows, cells) }

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
