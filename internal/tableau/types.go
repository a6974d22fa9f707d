package tableau

import "encoding/xml"

// The XML shapes of the REST API. Field tags name local names only so that both the
// default namespace and prefixed forms (ns0:tsResponse) parse.

type tsResponse struct {
	XMLName     xml.Name        `xml:"tsResponse"`
	Error       *xmlError       `xml:"error"`
	Credentials *xmlCredentials `xml:"credentials"`
	ServerInfo  *xmlServerInfo  `xml:"serverInfo"`
	Pagination  *xmlPagination  `xml:"pagination"`
	Webhook     *xmlWebhook     `xml:"webhook"`
	Webhooks    []xmlWebhook    `xml:"webhooks>webhook"`
	TestResult  *xmlTestResult  `xml:"webhookTestResult"`
	Workbook    *xmlWorkbook    `xml:"workbook"`
	Workbooks   []xmlWorkbook   `xml:"workbooks>workbook"`
	View        *xmlView        `xml:"view"`
	Views       []xmlView       `xml:"views>view"`
	Datasource  *xmlDatasource  `xml:"datasource"`
	Flow        *xmlFlow        `xml:"flow"`
	User        *xmlUser        `xml:"user"`
	Site        *xmlSite        `xml:"site"`
	Sites       []xmlSite       `xml:"sites>site"`
	Projects    []xmlProject    `xml:"projects>project"`
	Job         *xmlJob         `xml:"job"`
	Jobs        []xmlBackground `xml:"backgroundJobs>backgroundJob"`
	Warning     *xmlWarning     `xml:"dataQualityWarning"`
	Warnings    []xmlWarning    `xml:"dataQualityWarningList>dataQualityWarning"`
}

type xmlError struct {
	Code    string `xml:"code,attr"`
	Summary string `xml:"summary"`
	Detail  string `xml:"detail"`
}

type xmlCredentials struct {
	Token string `xml:"token,attr"`
	Site  struct {
		ID         string `xml:"id,attr"`
		ContentURL string `xml:"contentUrl,attr"`
	} `xml:"site"`
	User struct {
		ID string `xml:"id,attr"`
	} `xml:"user"`
}

type xmlServerInfo struct {
	ProductVersion struct {
		Build   string `xml:"build,attr"`
		Version string `xml:",chardata"`
	} `xml:"productVersion"`
	RestAPIVersion string `xml:"restApiVersion"`
}

type xmlPagination struct {
	PageNumber     int `xml:"pageNumber,attr"`
	PageSize       int `xml:"pageSize,attr"`
	TotalAvailable int `xml:"totalAvailable,attr"`
}

type xmlWebhook struct {
	ID                 string         `xml:"id,attr,omitempty"`
	Name               string         `xml:"name,attr,omitempty"`
	IsEnabled          string         `xml:"isEnabled,attr,omitempty"`
	StatusChangeReason string         `xml:"statusChangeReason,attr,omitempty"`
	Event              string         `xml:"event,attr,omitempty"`
	CreatedAt          string         `xml:"createdAt,attr,omitempty"`
	UpdatedAt          string         `xml:"updatedAt,attr,omitempty"`
	Source             *xmlSource     `xml:"webhook-source,omitempty"`
	Destination        *xmlDest       `xml:"webhook-destination,omitempty"`
	Owner              *xmlOwnerShort `xml:"owner,omitempty"`
}

// xmlSource holds the one child element whose name is the event (API < 3.9).
type xmlSource struct {
	Events []xmlElement `xml:",any"`
}

type xmlElement struct {
	XMLName xml.Name
}

type xmlDest struct {
	HTTP struct {
		Method string `xml:"method,attr"`
		URL    string `xml:"url,attr"`
	} `xml:"webhook-destination-http"`
}

type xmlOwnerShort struct {
	ID   string `xml:"id,attr"`
	Name string `xml:"name,attr,omitempty"`
}

type xmlTestResult struct {
	ID     string `xml:"id,attr"`
	Status int    `xml:"status,attr"`
	Body   string `xml:"body"`
}

type xmlRef struct {
	ID   string `xml:"id,attr"`
	Name string `xml:"name,attr"`
}

type xmlOwner struct {
	ID       string `xml:"id,attr"`
	Name     string `xml:"name,attr"`
	FullName string `xml:"fullName,attr"`
	Email    string `xml:"email,attr"`
	SiteRole string `xml:"siteRole,attr"`
}

type xmlTag struct {
	Label string `xml:"label,attr"`
}

type xmlLocation struct {
	ID   string `xml:"id,attr"`
	Type string `xml:"type,attr"`
	Name string `xml:"name,attr"`
}

type xmlWorkbook struct {
	ID          string       `xml:"id,attr"`
	Name        string       `xml:"name,attr"`
	Description string       `xml:"description,attr"`
	ContentURL  string       `xml:"contentUrl,attr"`
	WebpageURL  string       `xml:"webpageUrl,attr"`
	CreatedAt   string       `xml:"createdAt,attr"`
	UpdatedAt   string       `xml:"updatedAt,attr"`
	Project     *xmlRef      `xml:"project"`
	Location    *xmlLocation `xml:"location"`
	Owner       *xmlOwner    `xml:"owner"`
	Tags        []xmlTag     `xml:"tags>tag"`
	Views       []xmlView    `xml:"views>view"`
}

type xmlView struct {
	ID         string       `xml:"id,attr"`
	Name       string       `xml:"name,attr"`
	ContentURL string       `xml:"contentUrl,attr"`
	SheetType  string       `xml:"sheetType,attr"`
	CreatedAt  string       `xml:"createdAt,attr"`
	UpdatedAt  string       `xml:"updatedAt,attr"`
	Workbook   *xmlRef      `xml:"workbook"`
	Owner      *xmlOwner    `xml:"owner"`
	Project    *xmlRef      `xml:"project"`
	Tags       []xmlTag     `xml:"tags>tag"`
	Location   *xmlLocation `xml:"location"`
}

type xmlDatasource struct {
	ID          string    `xml:"id,attr"`
	Name        string    `xml:"name,attr"`
	Description string    `xml:"description,attr"`
	ContentURL  string    `xml:"contentUrl,attr"`
	WebpageURL  string    `xml:"webpageUrl,attr"`
	Type        string    `xml:"type,attr"`
	CreatedAt   string    `xml:"createdAt,attr"`
	UpdatedAt   string    `xml:"updatedAt,attr"`
	Project     *xmlRef   `xml:"project"`
	Owner       *xmlOwner `xml:"owner"`
	Tags        []xmlTag  `xml:"tags>tag"`
}

type xmlFlow = xmlDatasource

type xmlUser struct {
	ID        string `xml:"id,attr"`
	Name      string `xml:"name,attr"`
	FullName  string `xml:"fullName,attr"`
	Email     string `xml:"email,attr"`
	SiteRole  string `xml:"siteRole,attr"`
	LastLogin string `xml:"lastLogin,attr"`
}

type xmlSite struct {
	ID         string `xml:"id,attr"`
	Name       string `xml:"name,attr"`
	ContentURL string `xml:"contentUrl,attr"`
	State      string `xml:"state,attr"`
}

type xmlProject struct {
	ID              string    `xml:"id,attr"`
	Name            string    `xml:"name,attr"`
	Description     string    `xml:"description,attr"`
	ParentProjectID string    `xml:"parentProjectId,attr"`
	Owner           *xmlOwner `xml:"owner"`
}

type xmlJob struct {
	ID          string `xml:"id,attr"`
	Type        string `xml:"type,attr"`
	FinishCode  string `xml:"finishCode,attr"`
	CreatedAt   string `xml:"createdAt,attr"`
	StartedAt   string `xml:"startedAt,attr"`
	CompletedAt string `xml:"completedAt,attr"`
	Refresh     *struct {
		Workbook   *xmlRef `xml:"workbook"`
		Datasource *xmlRef `xml:"datasource"`
		Notes      string  `xml:"notes"`
	} `xml:"extractRefreshJob"`
	Upload *struct {
		Datasource *xmlRef `xml:"datasource"`
	} `xml:"updateUploadedFileJob"`
}

// xmlBackground is one entry of Query Jobs.
type xmlBackground struct {
	ID        string `xml:"id,attr"`
	Status    string `xml:"status,attr"`
	JobType   string `xml:"jobType,attr"`
	CreatedAt string `xml:"createdAt,attr"`
	StartedAt string `xml:"startedAt,attr"`
	EndedAt   string `xml:"endedAt,attr"`
	Title     string `xml:"title,attr"`
	Subtitle  string `xml:"subtitle,attr"`
}

// xmlWarning is a data quality warning, as answered and as sent.
type xmlWarning struct {
	ID          string `xml:"id,attr,omitempty"`
	Type        string `xml:"type,attr"`
	Message     string `xml:"message,attr"`
	IsActive    string `xml:"isActive,attr"`
	IsSevere    string `xml:"isSevere,attr,omitempty"`
	ContentID   string `xml:"contentId,attr,omitempty"`
	ContentType string `xml:"contentType,attr,omitempty"`
	Owner       *struct {
		ID string `xml:"id,attr"`
	} `xml:"owner"`
}

// The request shapes.

type tsRequest struct {
	XMLName     xml.Name    `xml:"tsRequest"`
	Credentials *xmlSignIn  `xml:"credentials,omitempty"`
	Webhook     *xmlWebhook `xml:"webhook,omitempty"`
	Warning     *xmlWarning `xml:"dataQualityWarning,omitempty"`
}

type xmlSignIn struct {
	PATName   string `xml:"personalAccessTokenName,attr"`
	PATSecret string `xml:"personalAccessTokenSecret,attr"`
	Site      struct {
		ContentURL string `xml:"contentUrl,attr"`
	} `xml:"site"`
}
