package payload

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../fakes/tableausim/fixtures/payloads"

func TestParseDocumentedPayloads(t *testing.T) {
	for name, want := range map[string]Payload{
		"payload_datasource_DatasourceCreated.json":            {Resource: "DATASOURCE", EventType: "DatasourceCreated", ResourceName: "My Datasource", SiteLUID: "8b2a95d8-52b9-40a4-8712-cd6da771bd1b", ResourceLUID: "99", CreatedAt: "2018-11-15T17:14:45Z"},
		"payload_workbook_WorkbookCreated.json":                {Resource: "WORKBOOK", EventType: "WorkbookCreated", ResourceName: "My Workbook", SiteLUID: "8b2a95d8-52b9-40a4-8712-cd6da771bd1b", ResourceLUID: "99", CreatedAt: "2018-11-15T17:14:45Z"},
		"payload_extracts_WorkbookRefreshStarted_issue11.json": {Resource: "EXTRACTS", EventType: "WorkbookRefreshStarted", ResourceName: "Workbook", SiteLUID: "abc", ResourceLUID: "abc", CreatedAt: "2019-11-14T14:31:21Z"},
	} {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		body, reason string
	}{
		{`{"event_type":"WorkbookUpdated"`, "malformed JSON"},
		{`[]`, "malformed JSON"},
		{`{"event_type":"WorkbookUpdated","site_luid":"s"}`, "missing resource_luid"},
		{`{"resource_luid":"r"}`, "missing event_type, site_luid"},
		{`{"event_type":" ","resource_luid":"r","site_luid":"s"}`, "missing event_type"},
		{`{"event_type":"E","resource_luid":"r","site_luid":"s"} {}`, "after top-level value"},
		{"{\"event_type\":\"\xff\"}", "not UTF-8"},
		{`{"event_type":1,"resource_luid":"r","site_luid":"s"}`, "malformed JSON"},
		{"{" + strings.Repeat(" ", MaxBytes) + "}", "larger than"},
	} {
		_, err := Parse([]byte(tc.body))
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tc.reason) {
			t.Errorf("Parse(%.40q) = %v, want reason %q", tc.body, err, tc.reason)
		}
	}
	for _, empty := range []string{"", "  \n"} {
		if _, err := Parse([]byte(empty)); !errors.Is(err, ErrEmpty) {
			t.Errorf("Parse(%q) = %v, want ErrEmpty", empty, err)
		}
	}
}

func TestKey(t *testing.T) {
	a := Payload{SiteLUID: "s", EventType: "WorkbookUpdated", ResourceLUID: "r", CreatedAt: "t", ResourceName: "A"}
	b := a
	b.ResourceName = "renamed" // same event, name is not part of identity
	if a.Key() != b.Key() {
		t.Error("same event, different keys")
	}
	for _, c := range []Payload{{SiteLUID: "s2", EventType: a.EventType, ResourceLUID: "r", CreatedAt: "t"}, {SiteLUID: "s", EventType: "WorkbookCreated", ResourceLUID: "r", CreatedAt: "t"}, {SiteLUID: "s", EventType: a.EventType, ResourceLUID: "r", CreatedAt: "t2"}, {SiteLUID: "sW", EventType: "orkbookUpdated", ResourceLUID: "r", CreatedAt: "t"}} {
		if c.Key() == a.Key() {
			t.Errorf("%+v shares a key with %+v", c, a)
		}
	}
}

// TestIdentity: the identity is stable, global (a function of the event alone), part
// of the key, and differs when any of the four facts differs.
func TestIdentity(t *testing.T) {
	base := Payload{SiteLUID: "s", EventType: "WorkbookUpdated", ResourceLUID: "r", CreatedAt: "2026-11-30T08:00:00Z", ResourceName: "a"}
	id := base.Identity()
	if len(id) != 32 || IdentityOfKey(base.Key()) != id {
		t.Fatalf("identity %q, key %q", id, base.Key())
	}
	renamed := base
	renamed.ResourceName = "b"
	if renamed.Identity() != id {
		t.Error("the name changed the identity: Tableau's retries carry the same event")
	}
	for _, p := range []Payload{
		{SiteLUID: "t", EventType: base.EventType, ResourceLUID: base.ResourceLUID, CreatedAt: base.CreatedAt},
		{SiteLUID: base.SiteLUID, EventType: "WorkbookDeleted", ResourceLUID: base.ResourceLUID, CreatedAt: base.CreatedAt},
		{SiteLUID: base.SiteLUID, EventType: base.EventType, ResourceLUID: "q", CreatedAt: base.CreatedAt},
		{SiteLUID: base.SiteLUID, EventType: base.EventType, ResourceLUID: base.ResourceLUID, CreatedAt: "2026-11-30T08:00:01Z"},
	} {
		if p.Identity() == id {
			t.Errorf("%+v has the identity of %+v", p, base)
		}
	}
}
