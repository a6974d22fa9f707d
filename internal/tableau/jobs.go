package tableau

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// JobFilter narrows Query Jobs. Empty fields do not filter.
type JobFilter struct {
	Types         []string  // jobType, e.g. refresh_extracts: eq for one, in for several
	Status        string    // Success, Failed, …
	CreatedAfter  time.Time // createdAt:gte
	CreatedBefore time.Time // createdAt:lte
	Title         string    // the item's name; sent only when the filter syntax can carry it
}

// query renders the filter expression. Tableau's filter syntax has no escaping: a value
// with a comma or an ampersand cannot be sent, so such a title is left for the caller
// to match.
func (f JobFilter) query() string {
	var parts []string
	switch len(f.Types) {
	case 0:
	case 1:
		parts = append(parts, "jobType:eq:"+f.Types[0])
	default:
		parts = append(parts, "jobType:in:["+strings.Join(f.Types, ",")+"]")
	}
	if f.Status != "" {
		parts = append(parts, "status:eq:"+f.Status)
	}
	if !f.CreatedAfter.IsZero() {
		parts = append(parts, "createdAt:gte:"+f.CreatedAfter.UTC().Format(time.RFC3339))
	}
	if !f.CreatedBefore.IsZero() {
		parts = append(parts, "createdAt:lte:"+f.CreatedBefore.UTC().Format(time.RFC3339))
	}
	if f.Title != "" && !strings.ContainsAny(f.Title, ",&:") {
		parts = append(parts, "title:eq:"+f.Title)
	}
	return strings.Join(parts, ",")
}

// Jobs lists the site's background jobs that match (Query Jobs; the first 100). Tableau
// answers it only to site and server administrators: others get a 403.
func (c *Client) Jobs(ctx context.Context, f JobFilter) ([]JobSummary, error) {
	q := url.Values{"pageSize": {"100"}}
	if expr := f.query(); expr != "" {
		q.Set("filter", expr)
	}
	var r tsResponse
	if err := c.call(ctx, "query jobs", http.MethodGet, "jobs?"+q.Encode(), nil, &r); err != nil {
		return nil, err
	}
	out := make([]JobSummary, 0, len(r.Jobs))
	for _, j := range r.Jobs {
		out = append(out, JobSummary{ID: j.ID, Status: j.Status, JobType: j.JobType, Title: j.Title, Subtitle: j.Subtitle,
			CreatedAt: parseTime(j.CreatedAt), StartedAt: parseTime(j.StartedAt), EndedAt: parseTime(j.EndedAt)})
	}
	return out, nil
}

// IsForbidden reports whether Tableau refused the call for the signed-in user's rights
// (403): e.g. Query Jobs for someone who is not a site administrator.
func IsForbidden(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusForbidden
}

// Data quality warnings need REST API 3.9 (Tableau Server 2020.2).
const qualityWarningsVersion = "3.9"

// QualityWarningsSupported reports whether the server speaks the data quality warning
// methods; unknown (not signed in yet) counts as yes.
func (c *Client) QualityWarningsSupported() error {
	return c.require("data quality warnings", qualityWarningsVersion)
}

// QualityWarnings lists the data quality warnings on a data source.
func (c *Client) QualityWarnings(ctx context.Context, datasourceID string) ([]QualityWarning, error) {
	op := "list data quality warnings of data source " + datasourceID
	if err := c.require(op, qualityWarningsVersion); err != nil {
		return nil, err
	}
	var r tsResponse
	if err := c.call(ctx, op, http.MethodGet, "dataQualityWarnings/datasource/"+pathEscape(datasourceID), nil, &r); err != nil {
		return nil, err
	}
	out := make([]QualityWarning, 0, len(r.Warnings))
	for _, w := range r.Warnings {
		out = append(out, w.model())
	}
	return out, nil
}

// AddQualityWarning adds an active data quality warning to a data source.
func (c *Client) AddQualityWarning(ctx context.Context, datasourceID, kind, message string) (QualityWarning, error) {
	op := "add data quality warning to data source " + datasourceID
	if err := c.require(op, qualityWarningsVersion); err != nil {
		return QualityWarning{}, err
	}
	body := tsRequest{Warning: &xmlWarning{Type: kind, Message: message, IsActive: "true", IsSevere: "false"}}
	var r tsResponse
	if err := c.call(ctx, op, http.MethodPost, "dataQualityWarnings/datasource/"+pathEscape(datasourceID), body, &r); err != nil {
		return QualityWarning{}, err
	}
	// The warning stands alone, or — as in list answers, and as the Python client
	// also accepts — inside a dataQualityWarningList.
	if r.Warning == nil && len(r.Warnings) > 0 {
		r.Warning = &r.Warnings[0]
	}
	if r.Warning == nil {
		return QualityWarning{}, fmt.Errorf("%s: answer has no warning", op)
	}
	return r.Warning.model(), nil
}

// DeleteQualityWarning removes one data quality warning.
func (c *Client) DeleteQualityWarning(ctx context.Context, id string) error {
	op := "delete data quality warning " + id
	if err := c.require(op, qualityWarningsVersion); err != nil {
		return err
	}
	return c.call(ctx, op, http.MethodDelete, "dataQualityWarnings/"+pathEscape(id), nil, nil)
}

func (w xmlWarning) model() QualityWarning {
	q := QualityWarning{ID: w.ID, Type: w.Type, Message: w.Message, Active: w.IsActive == "true"}
	if w.Owner != nil {
		q.OwnerID = w.Owner.ID
	}
	return q
}
