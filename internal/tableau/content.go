package tableau

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxPreviewBytes bounds a preview image download.
const MaxPreviewBytes = 8 << 20

func pathEscape(s string) string { return url.PathEscape(s) }

func xmlName(local string) xml.Name { return xml.Name{Local: local} }

// Workbook returns one workbook with its project, owner ID, tags and views.
func (c *Client) Workbook(ctx context.Context, id string) (Workbook, error) {
	op := fmt.Sprintf("get workbook %s", id)
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "workbooks/"+pathEscape(id), nil, &r); err != nil {
		return Workbook{}, err
	}
	if r.Workbook == nil {
		return Workbook{}, fmt.Errorf("%s: answer has no workbook", op)
	}
	return r.Workbook.model(), nil
}

// Workbooks returns every workbook of the site, following pagination.
func (c *Client) Workbooks(ctx context.Context) ([]Workbook, error) {
	var out []Workbook
	for page := 1; ; page++ {
		var r tsResponse
		path := fmt.Sprintf("workbooks?pageSize=100&pageNumber=%d", page)
		if err := c.call(ctx, "list workbooks", http.MethodGet, path, nil, &r); err != nil {
			return nil, err
		}
		for _, w := range r.Workbooks {
			out = append(out, w.model())
		}
		if r.Pagination == nil || len(r.Workbooks) == 0 || page*r.Pagination.PageSize >= r.Pagination.TotalAvailable {
			return out, nil
		}
	}
}

// WorkbookPreview returns the workbook's preview image (PNG).
func (c *Client) WorkbookPreview(ctx context.Context, id string) ([]byte, error) {
	op := fmt.Sprintf("get preview image of workbook %s", id)
	var img []byte
	err := c.callRaw(ctx, op, http.MethodGet, "workbooks/"+pathEscape(id)+"/previewImage", nil, func(resp *http.Response) error {
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxPreviewBytes+1))
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if len(b) > MaxPreviewBytes {
			return fmt.Errorf("%s: image larger than %d bytes", op, MaxPreviewBytes)
		}
		img = b
		return nil
	})
	return img, err
}

// WorkbookViews returns the views of a workbook.
func (c *Client) WorkbookViews(ctx context.Context, id string) ([]View, error) {
	var r tsResponse
	if err := c.call(ctx, fmt.Sprintf("get views of workbook %s", id), http.MethodGet, "workbooks/"+pathEscape(id)+"/views", nil, &r); err != nil {
		return nil, err
	}
	return viewModels(r.Views), nil
}

// View returns one view.
func (c *Client) View(ctx context.Context, id string) (View, error) {
	op := fmt.Sprintf("get view %s", id)
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "views/"+pathEscape(id), nil, &r); err != nil {
		return View{}, err
	}
	if r.View == nil {
		return View{}, fmt.Errorf("%s: answer has no view", op)
	}
	return r.View.model(), nil
}

// Datasource returns one published data source.
func (c *Client) Datasource(ctx context.Context, id string) (Datasource, error) {
	op := fmt.Sprintf("get datasource %s", id)
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "datasources/"+pathEscape(id), nil, &r); err != nil {
		return Datasource{}, err
	}
	if r.Datasource == nil {
		return Datasource{}, fmt.Errorf("%s: answer has no datasource", op)
	}
	return r.Datasource.model(), nil
}

// Flow returns one flow.
func (c *Client) Flow(ctx context.Context, id string) (Flow, error) {
	op := fmt.Sprintf("get flow %s", id)
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "flows/"+pathEscape(id), nil, &r); err != nil {
		return Flow{}, err
	}
	if r.Flow == nil {
		return Flow{}, fmt.Errorf("%s: answer has no flow", op)
	}
	return r.Flow.model(), nil
}

// User returns one site user.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	op := fmt.Sprintf("get user %s", id)
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "users/"+pathEscape(id), nil, &r); err != nil {
		return User{}, err
	}
	if r.User == nil {
		return User{}, fmt.Errorf("%s: answer has no user", op)
	}
	return r.User.model(), nil
}

// Site returns the signed-in site.
func (c *Client) Site(ctx context.Context) (Site, error) {
	const op = "get site"
	var r tsResponse
	// GET /sites/{id} is the site itself: an empty site-relative path.
	if err := c.call(ctx, op, http.MethodGet, "", nil, &r); err != nil {
		return Site{}, err
	}
	if r.Site == nil {
		return Site{}, fmt.Errorf("%s: answer has no site", op)
	}
	s := r.Site
	return Site{ID: s.ID, Name: s.Name, ContentURL: s.ContentURL, State: s.State}, nil
}

// Projects returns the first page of projects (up to 1000).
func (c *Client) Projects(ctx context.Context) ([]Project, error) {
	var r tsResponse
	if err := c.call(ctx, "list projects", http.MethodGet, "projects?pageSize=1000", nil, &r); err != nil {
		return nil, err
	}
	out := make([]Project, 0, len(r.Projects))
	for _, p := range r.Projects {
		pr := Project{ID: p.ID, Name: p.Name, Description: p.Description, ParentID: p.ParentProjectID}
		if p.Owner != nil {
			pr.OwnerID = p.Owner.ID
		}
		out = append(out, pr)
	}
	return out, nil
}

// Job returns a background job, e.g. an extract refresh with its failure notes.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	op := fmt.Sprintf("get job %s", id)
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "jobs/"+pathEscape(id), nil, &r); err != nil {
		return Job{}, err
	}
	if r.Job == nil {
		return Job{}, fmt.Errorf("%s: answer has no job", op)
	}
	return r.Job.model(), nil
}

func (w xmlWorkbook) model() Workbook {
	m := Workbook{ID: w.ID, Name: w.Name, Description: w.Description, ContentURL: w.ContentURL, WebpageURL: w.WebpageURL, Tags: tags(w.Tags), Views: viewModels(w.Views), UpdatedAt: parseTime(w.UpdatedAt)}
	if w.Project != nil {
		m.Project = Ref{ID: w.Project.ID, Name: w.Project.Name}
	}
	if w.Location != nil {
		m.Location = w.Location.Type
	}
	if w.Owner != nil {
		m.Owner = w.Owner.model()
	}
	return m
}

func (o xmlOwner) model() User {
	return User{ID: o.ID, Name: o.Name, FullName: o.FullName, Email: o.Email, SiteRole: o.SiteRole}
}

func (u xmlUser) model() User {
	return User{ID: u.ID, Name: u.Name, FullName: u.FullName, Email: u.Email, SiteRole: u.SiteRole}
}

func (v xmlView) model() View {
	m := View{ID: v.ID, Name: v.Name, ContentURL: v.ContentURL, Tags: tags(v.Tags)}
	if v.Workbook != nil {
		m.WorkbookID = v.Workbook.ID
	}
	if v.Owner != nil {
		m.OwnerID = v.Owner.ID
	}
	if v.Project != nil {
		m.ProjectID = v.Project.ID
	}
	return m
}

func (d xmlDatasource) model() Datasource {
	m := Datasource{ID: d.ID, Name: d.Name, Description: d.Description, ContentURL: d.ContentURL, WebpageURL: d.WebpageURL, Type: d.Type, Tags: tags(d.Tags)}
	if d.Project != nil {
		m.Project = Ref{ID: d.Project.ID, Name: d.Project.Name}
	}
	if d.Owner != nil {
		m.Owner = d.Owner.model()
	}
	return m
}

func (j xmlJob) model() Job {
	m := Job{ID: j.ID, Type: j.Type, FinishCode: j.FinishCode, CreatedAt: parseTime(j.CreatedAt), StartedAt: parseTime(j.StartedAt), CompletedAt: parseTime(j.CompletedAt)}
	if j.Refresh != nil {
		if j.Refresh.Workbook != nil {
			m.WorkbookID = j.Refresh.Workbook.ID
		}
		if j.Refresh.Datasource != nil {
			m.DatasourceID = j.Refresh.Datasource.ID
		}
		m.Notes = strings.TrimSpace(j.Refresh.Notes)
	}
	if j.Upload != nil && j.Upload.Datasource != nil {
		m.DatasourceID = j.Upload.Datasource.ID
	}
	return m
}

func viewModels(vs []xmlView) []View {
	out := make([]View, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.model())
	}
	return out
}

func tags(ts []xmlTag) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Label)
	}
	return out
}

// maxSites bounds Query Sites' listing: a server with more is refused rather than
// read into memory whole.
const maxSites = 10000

// Sites lists the sites the signed-in user can enter (Query Sites): every site of the
// server for a server administrator, else the signed-in one. Pages of 100.
func (c *Client) Sites(ctx context.Context) ([]Site, error) {
	const op = "query sites"
	var out []Site
	for page := 1; ; page++ {
		var r tsResponse
		if err := c.call(ctx, op, http.MethodGet, fmt.Sprintf("/sites?pageSize=100&pageNumber=%d", page), nil, &r); err != nil {
			return nil, err
		}
		for _, s := range r.Sites {
			out = append(out, Site{ID: s.ID, Name: s.Name, ContentURL: s.ContentURL, State: s.State})
		}
		if len(out) > maxSites {
			return nil, fmt.Errorf("%s: the server has more than %d sites", op, maxSites)
		}
		if r.Pagination == nil || len(r.Sites) == 0 || len(out) >= r.Pagination.TotalAvailable {
			return out, nil
		}
	}
}
