package spool

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
)

// FuzzEncodeNew: the hand-written encoding decodes to the same record as
// encoding/json's, for any strings.
func FuzzEncodeNew(f *testing.F) {
	f.Add("WorkbookUpdated", "Q&A <b>\"x\"\\ \u2028 \x01", "2026-11-30T07:00:00Z", "")
	f.Add("E", "\xff\xfe", "t", "text\n")
	f.Fuzz(func(t *testing.T, event, name, created, text string) {
		rec := Record{ID: 42, Key: created + "/k", State: Pending, ReceivedAt: time.Date(2026, 11, 30, 7, 0, 0, 123456789, time.UTC),
			Payload: payload.Payload{Resource: "WORKBOOK", EventType: event, ResourceName: name, SiteLUID: "s", ResourceLUID: "r", CreatedAt: created, Text: text}}
		var fast, std Record
		if err := json.Unmarshal(encodeNew(rec), &fast); err != nil {
			t.Fatalf("invalid JSON %q: %v", encodeNew(rec), err)
		}
		want, _ := json.Marshal(rec)
		if err := json.Unmarshal(want, &std); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("decoded\n%+v\nwant\n%+v", fast, std)
		}
	})
}
