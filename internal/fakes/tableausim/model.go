package tableausim

import "encoding/xml"

// Wire types. Each carries XML and JSON tags so one value renders in either format, the
// way the REST API serves both.

type response struct {
	XMLName    xml.Name        `xml:"tsResponse" json:"-"`
	Xmlns      string          `xml:"xmlns,attr" json:"-"`
	Error      *apiError       `xml:"error,omitempty" json:"error,omitempty"`
	Creds      *credentials    `xml:"credentials,omitempty" json:"credentials,omitempty"`
	ServerInfo *serverInfo     `xml:"serverInfo,omitempty" json:"serverInfo,omitempty"`
	Pagination *pagination     `xml:"pagination,omitempty" json:"pagination,omitempty"`
	Webhook    *webhookWire    `xml:"webhook,omitempty" json:"webhook,omitempty"`
	Webhooks   *webhookList    `xml:"webhooks,omitempty" json:"webhooks,omitempty"`
	TestResult *testResult     `xml:"webhookTestResult,omitempty" json:"webhookTestResult,omitempty"`
	Workbook   *Workbook       `xml:"workbook,omitempty" json:"workbook,omitempty"`
	Workbooks  *workbookList   `xml:"workbooks,omitempty" json:"workbooks,omitempty"`
	View       *View           `xml:"view,omitempty" json:"view,omitempty"`
	Views      *viewList       `xml:"views,omitempty" json:"views,omitempty"`
	Datasource *Datasource     `xml:"datasource,omitempty" json:"datasource,omitempty"`
	Flow       *Datasource     `xml:"flow,omitempty" json:"flow,omitempty"`
	User       *User           `xml:"user,omitempty" json:"user,omitempty"`
	Site       *Site           `xml:"site,omitempty" json:"site,omitempty"`
	Sites      *siteList       `xml:"sites,omitempty" json:"sites,omitempty"`
	Projects   *projectList    `xml:"projects,omitempty" json:"projects,omitempty"`
	Job        *jobWire        `xml:"job,omitempty" json:"job,omitempty"`
	Jobs       *backgroundList `xml:"backgroundJobs,omitempty" json:"backgroundJobs,omitempty"`
	Warning    *warningWire    `xml:"dataQualityWarning,omitempty" json:"dataQualityWarning,omitempty"`
	Warnings   *warningList    `xml:"dataQualityWarningList,omitempty" json:"dataQualityWarningList,omitempty"`
}

type apiError struct {
	Code    string `xml:"code,attr" json:"code"`
	Summary string `xml:"summary" json:"summary"`
	Detail  string `xml:"detail" json:"detail"`
}

type credentials struct {
	Token string `xml:"token,attr" json:"token"`
	Site  struct {
		ID         string `xml:"id,attr" json:"id"`
		ContentURL string `xml:"contentUrl,attr" json:"contentUrl"`
	} `xml:"site" json:"site"`
	User struct {
		ID string `xml:"id,attr" json:"id"`
	} `xml:"user" json:"user"`
}

type serverInfo struct {
	ProductVersion struct {
		Build   string `xml:"build,attr" json:"build"`
		Version string `xml:",chardata" json:"value"`
	} `xml:"productVersion" json:"productVersion"`
	RestAPIVersion string `xml:"restApiVersion" json:"restApiVersion"`
}

type pagination struct {
	PageNumber     int `xml:"pageNumber,attr" json:"pageNumber,string"`
	PageSize       int `xml:"pageSize,attr" json:"pageSize,string"`
	TotalAvailable int `xml:"totalAvailable,attr" json:"totalAvailable,string"`
}

type webhookWire struct {
	ID                 string     `xml:"id,attr,omitempty" json:"id,omitempty"`
	Name               string     `xml:"name,attr" json:"name"`
	IsEnabled          string     `xml:"isEnabled,attr,omitempty" json:"isEnabled,omitempty"`
	StatusChangeReason *string    `xml:"statusChangeReason,attr" json:"statusChangeReason,omitempty"`
	Event              string     `xml:"event,attr,omitempty" json:"event,omitempty"`
	CreatedAt          string     `xml:"createdAt,attr,omitempty" json:"createdAt,omitempty"`
	UpdatedAt          string     `xml:"updatedAt,attr,omitempty" json:"updatedAt,omitempty"`
	Source             *source    `xml:"webhook-source,omitempty" json:"webhook-source,omitempty"`
	Destination        *dest      `xml:"webhook-destination" json:"webhook-destination"`
	Owner              *ownerWire `xml:"owner,omitempty" json:"owner,omitempty"`
}

type source struct {
	Events []element `xml:",any" json:"-"`
}

type element struct {
	XMLName xml.Name
}

type dest struct {
	HTTP struct {
		Method string `xml:"method,attr" json:"method"`
		URL    string `xml:"url,attr" json:"url"`
	} `xml:"webhook-destination-http" json:"webhook-destination-http"`
}

type ownerWire struct {
	ID       string `xml:"id,attr" json:"id"`
	Name     string `xml:"name,attr,omitempty" json:"name,omitempty"`
	FullName string `xml:"fullName,attr,omitempty" json:"fullName,omitempty"`
}

type webhookList struct {
	Webhook []webhookWire `xml:"webhook" json:"webhook"`
}

type testResult struct {
	ID     string `xml:"id,attr" json:"id"`
	Status int    `xml:"status,attr" json:"status,string"`
	Body   string `xml:"body" json:"body"`
}

// Ref names a related item.
type Ref struct {
	ID   string `xml:"id,attr" json:"id"`
	Name string `xml:"name,attr,omitempty" json:"name,omitempty"`
}

// Tag is a content tag.
type Tag struct {
	Label string `xml:"label,attr" json:"label"`
}

type tagList struct {
	Tag []Tag `xml:"tag" json:"tag"`
}

// Workbook is a workbook as the simulator stores and serves it.
type Workbook struct {
	ID          string    `xml:"id,attr" json:"id"`
	Name        string    `xml:"name,attr" json:"name"`
	Description string    `xml:"description,attr,omitempty" json:"description,omitempty"`
	ContentURL  string    `xml:"contentUrl,attr" json:"contentUrl"`
	WebpageURL  string    `xml:"webpageUrl,attr,omitempty" json:"webpageUrl,omitempty"`
	CreatedAt   string    `xml:"createdAt,attr,omitempty" json:"createdAt,omitempty"`
	UpdatedAt   string    `xml:"updatedAt,attr,omitempty" json:"updatedAt,omitempty"`
	Project     *Ref      `xml:"project,omitempty" json:"project,omitempty"`
	Owner       Ref       `xml:"owner" json:"owner"`
	Tags        *tagList  `xml:"tags" json:"tags"`
	Views       *viewList `xml:"views,omitempty" json:"views,omitempty"`
	Preview     []byte    `xml:"-" json:"-"`
}

type workbookList struct {
	Workbook []Workbook `xml:"workbook" json:"workbook"`
}

// View is a sheet, dashboard or story.
type View struct {
	ID         string   `xml:"id,attr" json:"id"`
	Name       string   `xml:"name,attr" json:"name"`
	ContentURL string   `xml:"contentUrl,attr" json:"contentUrl"`
	Workbook   *Ref     `xml:"workbook,omitempty" json:"workbook,omitempty"`
	Owner      *Ref     `xml:"owner,omitempty" json:"owner,omitempty"`
	Project    *Ref     `xml:"project,omitempty" json:"project,omitempty"`
	Tags       *tagList `xml:"tags,omitempty" json:"tags,omitempty"`
}

type viewList struct {
	View []View `xml:"view" json:"view"`
}

// Datasource is a published data source; flows share the shape.
type Datasource struct {
	ID          string   `xml:"id,attr" json:"id"`
	Name        string   `xml:"name,attr" json:"name"`
	Description string   `xml:"description,attr,omitempty" json:"description,omitempty"`
	ContentURL  string   `xml:"contentUrl,attr,omitempty" json:"contentUrl,omitempty"`
	WebpageURL  string   `xml:"webpageUrl,attr,omitempty" json:"webpageUrl,omitempty"`
	Type        string   `xml:"type,attr,omitempty" json:"type,omitempty"`
	Project     *Ref     `xml:"project,omitempty" json:"project,omitempty"`
	Owner       Ref      `xml:"owner" json:"owner"`
	Tags        *tagList `xml:"tags" json:"tags"`
}

// User is a site user.
type User struct {
	ID       string `xml:"id,attr" json:"id"`
	Name     string `xml:"name,attr" json:"name"`
	FullName string `xml:"fullName,attr,omitempty" json:"fullName,omitempty"`
	Email    string `xml:"email,attr,omitempty" json:"email,omitempty"`
	SiteRole string `xml:"siteRole,attr" json:"siteRole"`
}

// Site is the simulated site.
type Site struct {
	ID         string `xml:"id,attr" json:"id"`
	Name       string `xml:"name,attr" json:"name"`
	ContentURL string `xml:"contentUrl,attr" json:"contentUrl"`
	State      string `xml:"state,attr,omitempty" json:"state,omitempty"`
}

type siteList struct {
	Site []Site `xml:"site" json:"site"`
}

type projectWire struct {
	ID              string `xml:"id,attr" json:"id"`
	Name            string `xml:"name,attr" json:"name"`
	Description     string `xml:"description,attr" json:"description"`
	ParentProjectID string `xml:"parentProjectId,attr,omitempty" json:"parentProjectId,omitempty"`
	Owner           *Ref   `xml:"owner,omitempty" json:"owner,omitempty"`
}

type projectList struct {
	Project []projectWire `xml:"project" json:"project"`
}

// jobWire is Query Job's answer. A recorded job keeps its inner XML as it was
// recorded (Inner); a simulated one is built from its fields.
type jobWire struct {
	ID          string       `xml:"id,attr" json:"id"`
	Mode        string       `xml:"mode,attr,omitempty" json:"mode,omitempty"`
	Type        string       `xml:"type,attr" json:"type"`
	Progress    string       `xml:"progress,attr,omitempty" json:"progress,omitempty"`
	CreatedAt   string       `xml:"createdAt,attr,omitempty" json:"createdAt,omitempty"`
	StartedAt   string       `xml:"startedAt,attr,omitempty" json:"startedAt,omitempty"`
	CompletedAt string       `xml:"completedAt,attr,omitempty" json:"completedAt,omitempty"`
	FinishCode  string       `xml:"finishCode,attr,omitempty" json:"finishCode,omitempty"`
	Refresh     *refreshWire `xml:"extractRefreshJob,omitempty" json:"extractRefreshJob,omitempty"`
	Inner       []byte       `xml:",innerxml" json:"-"`
}

type refreshWire struct {
	Workbook   *Ref   `xml:"workbook,omitempty" json:"workbook,omitempty"`
	Datasource *Ref   `xml:"datasource,omitempty" json:"datasource,omitempty"`
	Notes      string `xml:"notes,omitempty" json:"notes,omitempty"`
}

// warningWire is a data quality warning.
type warningWire struct {
	ID          string `xml:"id,attr,omitempty" json:"id,omitempty"`
	Type        string `xml:"type,attr" json:"type"`
	Message     string `xml:"message,attr" json:"message"`
	IsActive    string `xml:"isActive,attr" json:"isActive"`
	IsSevere    string `xml:"isSevere,attr,omitempty" json:"isSevere,omitempty"`
	ContentID   string `xml:"contentId,attr,omitempty" json:"contentId,omitempty"`
	ContentType string `xml:"contentType,attr,omitempty" json:"contentType,omitempty"`
	CreatedAt   string `xml:"createdAt,attr,omitempty" json:"createdAt,omitempty"`
	Owner       *Ref   `xml:"owner,omitempty" json:"owner,omitempty"`
}

type warningList struct {
	Warning []warningWire `xml:"dataQualityWarning" json:"dataQualityWarning"`
}

// request is what clients send for sign-in and webhooks.
type request struct {
	Credentials *struct {
		PATName   string `xml:"personalAccessTokenName,attr" json:"personalAccessTokenName"`
		PATSecret string `xml:"personalAccessTokenSecret,attr" json:"personalAccessTokenSecret"`
		Site      struct {
			ContentURL string `xml:"contentUrl,attr" json:"contentUrl"`
		} `xml:"site" json:"site"`
	} `xml:"credentials" json:"credentials"`
	Webhook *webhookWire `xml:"webhook" json:"webhook"`
	Warning *warningWire `xml:"dataQualityWarning" json:"dataQualityWarning"`
}
