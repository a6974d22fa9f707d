package words

import (
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
)

func TestWords(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Event("DatasourceRefreshFailed"), "Data source extract refresh failed"},
		{Event("WorkbookTeleported"), "Tableau event WorkbookTeleported"},
		{Name(enrich.Facts{Name: "Sales"}), "Sales"},
		{Name(enrich.Facts{Payload: payload.Payload{Resource: "WORKBOOK", ResourceLUID: "42"}}), "(unnamed workbook 42)"},
		{Headline("java.lang.RuntimeException: [Microsoft][ODBC Driver 17][SQL Server]Login failed.\\nmore"), "Login failed."},
		{Headline("  \n"), ""},
		{Ordinal(1), "1st"}, {Ordinal(2), "2nd"}, {Ordinal(3), "3rd"}, {Ordinal(4), "4th"},
		{Ordinal(11), "11th"}, {Ordinal(12), "12th"}, {Ordinal(13), "13th"}, {Ordinal(21), "21st"}, {Ordinal(112), "112th"},
		{Duration(45 * time.Second), "45s"}, {Duration(134 * time.Second), "2m 14s"}, {Duration(63 * time.Minute), "1h 3m"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
