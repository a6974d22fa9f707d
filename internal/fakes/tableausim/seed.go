package tableausim

import (
	"embed"
	"encoding/xml"
	"fmt"
	"strings"
)

// Fixtures holds the recorded Tableau responses and documented webhook payloads
// (see fixtures/README.md and the MIT licence beside them).
//
//go:embed fixtures
var Fixtures embed.FS

// IDs of seeded content that tests and the demo refer to.
const (
	adminUserID = "dd2239f6-ddf1-4107-981a-4cf94e415794" // alice, user_get_by_id.xml
	// OwnerUserID owns the recorded workbooks and the data source.
	OwnerUserID = "5de011f8-5aa9-4d5b-b991-f462c8dd6bb7"
	// WorkbookID is SafariSample from workbook_get_by_id.xml.
	WorkbookID = "3cc6cd06-89ce-4fdc-b935-5294135d6d42"
	// SuperstoreID is Superstore from workbook_get.xml.
	SuperstoreID = "6d13b0ca-043d-4d42-8c9d-3f3313ea3a00"
	// DatasourceID is "Sample datasource" from datasource_get_by_id.xml.
	DatasourceID = "9dbd2263-16b5-46e1-9c43-a76bb8ab65fb"
	// FlowID is FlowOne from flow_get_by_id.xml.
	FlowID = "587daa37-b84d-4400-a9a2-aa90e0be7837"
	// AdminUserID is alice, the seeded site administrator.
	AdminUserID = adminUserID
)

func mustFixture(name string) []byte {
	b, err := Fixtures.ReadFile("fixtures/tableau/" + name)
	if err != nil {
		panic(fmt.Sprintf("tableausim: embedded fixture %s: %v", name, err)) // build defect, not a runtime failure
	}
	return b
}

func mustDecode(name string, v any) {
	if err := xml.Unmarshal(mustFixture(name), v); err != nil {
		panic(fmt.Sprintf("tableausim: fixture %s: %v", name, err))
	}
}

// seed loads the site, users, projects and content from the recorded fixtures.
func (s *Sim) seed() {
	var r response
	mustDecode("site_get_by_id.xml", &r)
	s.site = *r.Site

	r = response{}
	mustDecode("user_get_by_id.xml", &r)
	alice := *r.User
	alice.SiteRole = "SiteAdministratorCreator"
	s.users[alice.ID] = &alice
	// Owners the recorded content refers to by ID only.
	s.users[OwnerUserID] = &User{ID: OwnerUserID, Name: "bob@example.com", FullName: "Bob Smith", Email: "bob@example.com", SiteRole: "Creator"}
	s.users["7ebb3f20-0fd2-4f27-a2f6-c539470999e2"] = &User{ID: "7ebb3f20-0fd2-4f27-a2f6-c539470999e2", Name: "carol", FullName: "Carol Jones", SiteRole: "Explorer"}

	r = response{}
	mustDecode("project_get.xml", &r)
	s.projects = r.Projects.Project

	preview := mustFixture("workbook_preview_image.png")
	r = response{}
	mustDecode("workbook_get.xml", &r)
	for i := range r.Workbooks.Workbook {
		wb := r.Workbooks.Workbook[i]
		wb.Preview = preview
		s.workbooks[wb.ID] = &wb
	}
	r = response{}
	mustDecode("workbook_get_by_id.xml", &r)
	wb := *r.Workbook
	wb.Preview = preview
	s.workbooks[wb.ID] = &wb

	r = response{}
	mustDecode("view_get.xml", &r)
	for _, v := range r.Views.View {
		s.views[v.ID] = v
	}

	r = response{}
	mustDecode("datasource_get_by_id.xml", &r)
	ds := *r.Datasource
	ds.WebpageURL = "http://tableauserver/#/datasources/1"
	s.datasources[ds.ID] = &ds

	r = response{}
	mustDecode("flow_get_by_id.xml", &r)
	fl := *r.Flow
	s.flows[fl.ID] = &fl

	for _, name := range []string{"job_get_by_id_failed.xml", "job_get_by_id_failed_workbook.xml"} {
		r = response{}
		mustDecode(name, &r)
		j := *r.Job
		j.Refresh = nil // served from Inner, as recorded
		s.jobs[j.ID] = j
	}
}

// AddWorkbook adds or replaces a workbook. Preview defaults to the recorded PNG.
func (s *Sim) AddWorkbook(wb Workbook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wb.Preview == nil {
		wb.Preview = mustFixture("workbook_preview_image.png")
	}
	if wb.Tags == nil {
		wb.Tags = &tagList{}
	}
	s.workbooks[wb.ID] = &wb
}

// AddDatasource adds or replaces a data source.
func (s *Sim) AddDatasource(d Datasource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Tags == nil {
		d.Tags = &tagList{}
	}
	s.datasources[d.ID] = &d
}

// AddUser adds or replaces a user.
func (s *Sim) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = &u
}

// Tags builds a tag list for AddWorkbook and AddDatasource.
func Tags(labels ...string) *tagList {
	t := &tagList{}
	for _, l := range labels {
		t.Tag = append(t.Tag, Tag{Label: strings.TrimSpace(l)})
	}
	return t
}

func xmlName(local string) xml.Name { return xml.Name{Local: local} }
