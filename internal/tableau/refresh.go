package tableau

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// AlreadyQueuedCode is Tableau's answer to a refresh of an item whose refresh is
// already queued: "Job for '…' is already queued. Not queuing a duplicate." (409093)
const AlreadyQueuedCode = "409093"

// IsAlreadyQueued reports whether err is Tableau declining a refresh because one is
// already queued for the item: not a failure — the refresh asked for will run.
func IsAlreadyQueued(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == AlreadyQueuedCode
}

// RefreshNow starts an extract refresh of a workbook or data source now (Update
// Workbook Now, Update Data Source Now; REST API 2.8), as "Refresh Extracts" in
// Tableau's UI does, and returns the job's ID. A refresh already queued for the item
// is an error for which IsAlreadyQueued is true.
func (c *Client) RefreshNow(ctx context.Context, kind, id string) (string, error) {
	var path string
	switch kind {
	case "workbook":
		path = "workbooks/" + pathEscape(id) + "/refresh"
	case "datasource":
		path = "datasources/" + pathEscape(id) + "/refresh"
	default:
		return "", fmt.Errorf("refresh %s %s: only workbooks and data sources are refreshed", kind, id)
	}
	op := fmt.Sprintf("refresh %s %s", kind, id)
	if err := c.require(op, "2.8"); err != nil {
		return "", err
	}
	var r tsResponse
	if err := c.call(ctx, op, http.MethodPost, path, tsRequest{}, &r); err != nil {
		return "", err
	}
	if r.Job == nil {
		return "", fmt.Errorf("%s: answer has no job", op)
	}
	return r.Job.ID, nil
}
