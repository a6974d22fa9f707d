package tableau

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureDir = "../fakes/tableausim/fixtures/tableau"

// TestEveryFixtureParses decodes every recorded response and checks the facts tabhook
// reads from it, so a change to the XML types cannot silently drop a field.
func TestEveryFixtureParses(t *testing.T) {
	checks := map[string]func(t *testing.T, r tsResponse){
		"auth_sign_in.xml": func(t *testing.T, r tsResponse) {
			eq(t, r.Credentials.Token, "eIX6mvFsqyansa4KqEI1UwOpS8ggRs2l")
			eq(t, r.Credentials.Site.ID, "6b7179ba-b82b-4f0f-91ed-812074ac5da6")
			eq(t, r.Credentials.User.ID, "1a96d216-e9b8-497b-a82a-0b899a965e01")
		},
		"auth_sign_in_impersonate.xml": func(t *testing.T, r tsResponse) { eq(t, r.Credentials.Site.ContentURL, "") },
		"auth_sign_in_error.xml":       func(t *testing.T, r tsResponse) { eq(t, r.Error.Code, "401001") },
		"server_info_404.xml":          func(t *testing.T, r tsResponse) { eq(t, r.Error.Code, "404003") },
		"server_info_get.xml":          func(t *testing.T, r tsResponse) { eq(t, strings.TrimSpace(r.ServerInfo.RestAPIVersion), "3.10") },
		"server_info_25.xml":           func(t *testing.T, r tsResponse) { eq(t, strings.TrimSpace(r.ServerInfo.RestAPIVersion), "2.5") },
		"webhook_create.xml": func(t *testing.T, r tsResponse) {
			m := r.Webhook.model()
			eq(t, m.ID, "webhook-id")
			eq(t, m.URL, "url")
			eq(t, m.Owner.Name, "webhook_owner_name")
			eq(t, m.Event, "webhook-source-api-event-name") // unknown names are kept, not dropped
		},
		"webhook_get.xml": func(t *testing.T, r tsResponse) {
			eq(t, len(r.Webhooks), 1)
			eq(t, r.Webhooks[0].model().Event, "DatasourceCreated")
		},
		"webhook_get_new_event.xml": func(t *testing.T, r tsResponse) { eq(t, r.Webhooks[0].model().Event, "AdminPromoted") },
		"webhook_update.xml": func(t *testing.T, r tsResponse) {
			m := r.Webhook.model()
			eq(t, m.Enabled, true)
			eq(t, m.URL, "https://updated-url.example.com/hook")
		},
		"workbook_get_by_id.xml": func(t *testing.T, r tsResponse) {
			m := r.Workbook.model()
			eq(t, m.Project.Name, "default")
			eq(t, m.WebpageURL, "http://tableauserver/#/workbooks/2/views")
			eq(t, strings.Join(m.Tags, ","), "Safari,Sample")
			eq(t, len(m.Views), 1)
		},
		"workbook_get_by_id_personal.xml": func(t *testing.T, r tsResponse) { eq(t, r.Workbook.model().Project.ID, "") },
		"workbook_get.xml": func(t *testing.T, r tsResponse) {
			eq(t, len(r.Workbooks), 2)
			eq(t, r.Pagination.TotalAvailable, 2)
		},
		"workbook_get_all_fields.xml": func(t *testing.T, r tsResponse) {
			eq(t, len(r.Workbooks), 6)
			eq(t, r.Workbooks[0].model().Owner.FullName, "Bob Smith")
			eq(t, r.Workbooks[5].model().Location, "PersonalSpace")
		},
		"workbook_get_empty.xml":      func(t *testing.T, r tsResponse) { eq(t, len(r.Workbooks), 0) },
		"workbook_populate_views.xml": func(t *testing.T, r tsResponse) { eq(t, len(r.Views), 3) },
		"view_get.xml": func(t *testing.T, r tsResponse) {
			eq(t, r.Views[0].model().WorkbookID, "3cc6cd06-89ce-4fdc-b935-5294135d6d42")
		},
		"view_get_all_fields.xml": func(t *testing.T, r tsResponse) { eq(t, len(r.Views), 3) },
		"view_get_id.xml": func(t *testing.T, r tsResponse) {
			eq(t, r.View.model().ProjectID, "5241e88d-d384-4fd7-9c2f-648b5247efc5")
		},
		"datasource_get_by_id.xml": func(t *testing.T, r tsResponse) {
			m := r.Datasource.model()
			eq(t, m.Name, "Sample datasource")
			eq(t, m.Owner.ID, "5de011f8-5aa9-4d5b-b991-f462c8dd6bb7")
		},
		"flow_get_by_id.xml": func(t *testing.T, r tsResponse) { eq(t, r.Flow.model().WebpageURL, "http://tableauserver/#/flows/1") },
		"user_get_by_id.xml": func(t *testing.T, r tsResponse) {
			eq(t, r.User.model().DisplayName(), "Alice")
			eq(t, r.User.SiteRole, "Publisher")
		},
		"site_get_by_id.xml": func(t *testing.T, r tsResponse) { eq(t, r.Site.Name, "Default") },
		"project_get.xml": func(t *testing.T, r tsResponse) {
			eq(t, r.Projects[2].ParentProjectID, "1d0304cd-3796-429f-b815-7258370b9b74")
		},
		"job_get_by_id_failed.xml": func(t *testing.T, r tsResponse) {
			eq(t, r.Job.model().DatasourceID, "03b9fbec-81f6-4160-ae49-5f9f6d412758")
		},
		"job_get_by_id_failed_workbook.xml": func(t *testing.T, r tsResponse) {
			eq(t, r.Job.model().WorkbookID, "5998aaaf-1abe-4d38-b4d9-bc53e85bdd13")
		},
	}
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasSuffix(name, ".png"):
				if string(b[1:4]) != "PNG" {
					t.Fatal("not a PNG")
				}
				return
			case name == "server_info_auth_info.xml":
				// The legacy /auth answer is not a tsResponse: it must be refused, not misread.
				var r tsResponse
				if err := xml.Unmarshal(b, &r); err == nil {
					t.Fatal("legacy authinfo parsed as a tsResponse")
				}
				return
			case strings.HasPrefix(name, "LICENSE"):
				return
			case name == "webhook_create_request.xml":
				// A request in the pre-3.9 form: the client must produce the same shape.
				var req tsRequest
				if err := xml.Unmarshal(b, &req); err != nil {
					t.Fatal(err)
				}
				eq(t, req.Webhook.Source.Events[0].XMLName.Local, "webhook-source-event-api-event-name")
				eq(t, req.Webhook.Destination.HTTP.URL, "url")
				return
			}
			var r tsResponse
			if err := xml.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			check, ok := checks[name]
			if !ok {
				t.Fatalf("fixture %s has no check: add one", name)
			}
			check(t, r)
		})
	}
}

func TestWebhookCreateRequestMatchesRecordedForm(t *testing.T) {
	c := &Client{version: "3.6"}
	req, err := c.webhookRequest(WebhookSpec{Name: strPtr("webhook-name"), Event: strPtr("DatasourceCreated"), URL: strPtr("url")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := xml.Marshal(req)
	want := `<tsRequest><webhook name="webhook-name"><webhook-source><webhook-source-event-datasource-created></webhook-source-event-datasource-created></webhook-source><webhook-destination><webhook-destination-http method="POST" url="url"></webhook-destination-http></webhook-destination></webhook></tsRequest>`
	eq(t, string(b), want)
	c.version = "3.9"
	req, _ = c.webhookRequest(WebhookSpec{Name: strPtr("n"), Event: strPtr("workbook-updated"), URL: strPtr("https://x")})
	eq(t, req.Webhook.Event, "WorkbookUpdated")
	eq(t, req.Webhook.Source == nil, true)
}

func TestVersionCompare(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		ok         bool
	}{{"3.10", "3.9", true}, {"3.9", "3.9", true}, {"3.8", "3.9", false}, {"2.5", "3.6", false}, {"4.0", "3.9", true}} {
		eq(t, atLeast(tc.have, tc.want), tc.ok)
	}
}

func strPtr(s string) *string { return &s }

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}
