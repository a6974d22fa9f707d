package tableausim

import (
	"fmt"
	"slices"
	"strings"
)

// Item is a piece of the site's content an event can be about.
type Item struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Items lists the content an event of this type can name, by name: workbooks for
// Workbook… events, data sources for Datasource…, views, users; nil for events that
// name no content of the simulated site (labels, sites).
func (s *Sim) Items(event string) []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Item
	switch {
	case strings.HasPrefix(event, "Workbook"):
		for _, w := range s.workbooks {
			out = append(out, Item{w.ID, w.Name})
		}
	case strings.HasPrefix(event, "Datasource"):
		for _, d := range s.datasources {
			out = append(out, Item{d.ID, d.Name})
		}
	case strings.HasPrefix(event, "View"):
		for _, v := range s.views {
			out = append(out, Item{v.ID, v.Name})
		}
	case strings.HasPrefix(event, "User"), strings.HasPrefix(event, "Admin"):
		for _, u := range s.users {
			out = append(out, Item{u.ID, u.Name})
		}
	default:
		return nil
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out
}

// FindItem finds the content an event of this type is about by its name
// (case-insensitive) or ID. A workbook or data source that does not exist is added
// (owned by Bob Smith, in the default project), so any name can be tried; events that
// name no content take any name.
func (s *Sim) FindItem(event, ref string) (Item, error) {
	items := s.Items(event)
	if items == nil {
		return Item{ID: newID(), Name: ref}, nil
	}
	for _, it := range items {
		if it.ID == ref || strings.EqualFold(it.Name, ref) {
			return it, nil
		}
	}
	it := Item{ID: newID(), Name: ref}
	project, owner := &Ref{ID: "a1b2c3d4-0000-4000-8000-000000000001", Name: "default"}, Ref{ID: OwnerUserID}
	switch {
	case strings.HasPrefix(event, "Workbook"):
		s.AddWorkbook(Workbook{ID: it.ID, Name: ref, WebpageURL: "http://tableauserver/#/workbooks/" + it.ID, Project: project, Owner: owner})
		return it, nil
	case strings.HasPrefix(event, "Datasource"):
		s.AddDatasource(Datasource{ID: it.ID, Name: ref, WebpageURL: "http://tableauserver/#/datasources/" + it.ID, Project: project, Owner: owner})
		return it, nil
	}
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = fmt.Sprintf("%q", it.Name)
	}
	return Item{}, fmt.Errorf("no %s %q on the simulated site; it has %s", kind(event), ref, strings.Join(names, ", "))
}

func kind(event string) string {
	if strings.HasPrefix(event, "View") {
		return "view"
	}
	return "user"
}
