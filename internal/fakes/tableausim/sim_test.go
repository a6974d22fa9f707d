package tableausim

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServerInfoBothSpellings: Tableau answers serverinfo and serverInfo; the Python
// tableauserverclient asks for the latter.
func TestServerInfoBothSpellings(t *testing.T) {
	srv := New(Options{}).Start()
	defer srv.Close()
	for _, path := range []string{"/api/3.24/serverinfo", "/api/3.24/serverInfo"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "restApiVersion") {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
}

// TestFindItem: an item is found by name (any case) or ID; a workbook or data source
// that does not exist is added under that name; a user that does not exist is an
// error naming those that do.
func TestFindItem(t *testing.T) {
	s := New(Options{})
	if it, err := s.FindItem("DatasourceRefreshFailed", "sample DATASOURCE"); err != nil || it.ID != DatasourceID {
		t.Errorf("by name: %+v %v", it, err)
	}
	if it, err := s.FindItem("WorkbookUpdated", WorkbookID); err != nil || it.Name != "SafariSample" {
		t.Errorf("by ID: %+v %v", it, err)
	}
	it, err := s.FindItem("DatasourceRefreshFailed", "Orders")
	if err != nil || it.Name != "Orders" {
		t.Fatalf("a new data source: %+v %v", it, err)
	}
	if again, _ := s.FindItem("DatasourceUpdated", "orders"); again.ID != it.ID {
		t.Errorf("the added data source is found again: %+v, want %s", again, it.ID)
	}
	if _, err := s.FindItem("AdminPromoted", "nobody"); err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
		t.Errorf("an unknown user: %v", err)
	}
	if it, err := s.FindItem("SiteCreated", "anything"); err != nil || it.Name != "anything" {
		t.Errorf("an event about no content: %+v %v", it, err)
	}
}
