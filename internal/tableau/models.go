package tableau

import "time"

// Ref names a related item.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Webhook is a site's webhook as tabhook presents it.
type Webhook struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Event              string    `json:"event"`
	URL                string    `json:"url"`
	Enabled            bool      `json:"enabled"`
	Owner              Ref       `json:"owner"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	StatusChangeReason string    `json:"status_change_reason"`
}

// WebhookSpec is what create and update send. Nil fields are left unchanged by update.
type WebhookSpec struct {
	Name    *string
	Event   *string // API name
	URL     *string
	Enabled *bool
}

// TestResult is Tableau's report of its test delivery to a webhook's destination.
type TestResult struct {
	ID     string `json:"id"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	OK     bool   `json:"ok"`
}

// ServerInfo is the answer of GET serverinfo.
type ServerInfo struct {
	ProductVersion string
	Build          string
	RESTAPIVersion string
}

// User is a site user.
type User struct {
	ID       string
	Name     string
	FullName string
	Email    string
	SiteRole string
}

// DisplayName is the full name when Tableau has one, else the user name.
func (u User) DisplayName() string {
	if u.FullName != "" {
		return u.FullName
	}
	return u.Name
}

// Workbook is a workbook with the facts the relay reports.
type Workbook struct {
	ID          string
	Name        string
	Description string
	ContentURL  string
	WebpageURL  string
	Project     Ref // empty for a workbook in a personal space
	Location    string
	Owner       User // ID always; names only when the server embeds them
	Tags        []string
	Views       []View
	UpdatedAt   time.Time
}

// View is a sheet, dashboard or story.
type View struct {
	ID         string
	Name       string
	ContentURL string
	WorkbookID string
	OwnerID    string
	ProjectID  string
	Tags       []string
}

// Datasource is a published data source; Flow shares its shape.
type Datasource struct {
	ID          string
	Name        string
	Description string
	ContentURL  string
	WebpageURL  string
	Type        string
	Project     Ref
	Owner       User
	Tags        []string
}

// Flow is a Tableau Prep flow.
type Flow = Datasource

// Site is a Tableau site.
type Site struct {
	ID         string
	Name       string
	ContentURL string
	State      string
}

// Project is a content project.
type Project struct {
	ID          string
	Name        string
	Description string
	ParentID    string
	OwnerID     string
}

// Job is a background job, e.g. an extract refresh.
type Job struct {
	ID           string
	Type         string
	FinishCode   string
	WorkbookID   string
	DatasourceID string
	Notes        string // an extract refresh's error text, as Tableau wrote it
	CreatedAt    time.Time
	StartedAt    time.Time
	CompletedAt  time.Time
}

// JobSummary is one job as Query Jobs lists it.
type JobSummary struct {
	ID        string
	Status    string // Success, Failed, InProgress, Cancelled, Pending
	JobType   string // e.g. refresh_extracts
	CreatedAt time.Time
	StartedAt time.Time
	EndedAt   time.Time
	Title     string // the item's name (newer servers)
	Subtitle  string // its kind: Workbook, Data Source
}

// QualityWarning is a data quality warning on a data source.
type QualityWarning struct {
	ID      string
	Type    string // WARNING, DEPRECATED, STALE, SENSITIVE_DATA, MAINTENANCE
	Message string
	Active  bool
	OwnerID string
}
