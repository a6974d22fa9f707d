package tableausim

import (
	"net/http"
	"sort"
	"time"
)

// warning is a data quality warning on a data source.
type warning struct {
	wire    warningWire
	content string // the data source's ID
	ownerID string
}

// QualityWarning is a data quality warning as tests see it.
type QualityWarning struct {
	ID, Type, Message, OwnerID string
}

// listWarnings is Query Data Quality Warnings by content.
func (s *Sim) listWarnings(w http.ResponseWriter, r *http.Request, _ session) {
	if r.PathValue("kind") != "datasource" {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The simulator keeps warnings on data sources only.")
		return
	}
	list := &warningList{}
	for _, q := range s.warningsOn(r.PathValue("id")) {
		list.Warning = append(list.Warning, q.wire)
	}
	write(w, r, http.StatusOK, response{Warnings: list})
}

func (s *Sim) warningsOn(dsID string) []warning {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []warning
	for _, q := range s.warnings {
		if q.content == dsID {
			out = append(out, *q)
		}
	}
	sort.Slice(out, func(i, k int) bool {
		return out[i].wire.CreatedAt+out[i].wire.ID < out[k].wire.CreatedAt+out[k].wire.ID
	})
	return out
}

// canWarn: administrators and the data source's owner may change its warnings.
func (s *Sim) canWarn(ss session, dsID string) bool {
	if s.isAdmin(ss) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds, ok := s.datasources[dsID]
	return ok && ds.Owner.ID == ss.userID
}

// addWarning is Add Data Quality Warning.
func (s *Sim) addWarning(w http.ResponseWriter, r *http.Request, ss session) {
	id := r.PathValue("id")
	s.mu.Lock()
	_, known := s.datasources[id]
	s.mu.Unlock()
	switch {
	case r.PathValue("kind") != "datasource":
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The simulator keeps warnings on data sources only.")
		return
	case !known:
		notFound(w, r, "404011", "Datasource")
		return
	case !s.canWarn(ss, id):
		forbidden(w, r, "You do not have permission to add a data quality warning to this data source.")
		return
	}
	req, err := readRequest(r)
	if err != nil || req.Warning == nil || req.Warning.Type == "" {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The data quality warning could not be parsed.")
		return
	}
	q := s.putWarning(id, ss.userID, req.Warning.Type, req.Warning.Message, req.Warning.IsSevere)
	if s.opts.WarningInList {
		write(w, r, http.StatusOK, response{Warnings: &warningList{Warning: []warningWire{q}}})
		return
	}
	write(w, r, http.StatusOK, response{Warning: &q})
}

func (s *Sim) putWarning(dsID, ownerID, kind, message, severe string) warningWire {
	if severe == "" {
		severe = "false"
	}
	q := &warning{content: dsID, ownerID: ownerID, wire: warningWire{ID: newID(), Type: kind, Message: message, IsActive: "true", IsSevere: severe,
		ContentID: dsID, ContentType: "DATASOURCE", CreatedAt: stamp(time.Now()), Owner: &Ref{ID: ownerID}}}
	s.mu.Lock()
	s.warnings[q.wire.ID] = q
	s.mu.Unlock()
	return q.wire
}

// deleteWarning is Delete Data Quality Warning by ID.
func (s *Sim) deleteWarning(w http.ResponseWriter, r *http.Request, ss session) {
	id := r.PathValue("id")
	s.mu.Lock()
	q, ok := s.warnings[id]
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404057", "Data quality warning")
		return
	}
	if !s.canWarn(ss, q.content) {
		forbidden(w, r, "You do not have permission to delete this data quality warning.")
		return
	}
	s.mu.Lock()
	delete(s.warnings, id)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// AddQualityWarning puts a warning on a data source as another user would.
func (s *Sim) AddQualityWarning(dsID, message string) string {
	return s.putWarning(dsID, OwnerUserID, "WARNING", message, "false").ID
}

// QualityWarnings lists the warnings on a data source.
func (s *Sim) QualityWarnings(dsID string) []QualityWarning {
	var out []QualityWarning
	for _, q := range s.warningsOn(dsID) {
		out = append(out, QualityWarning{ID: q.wire.ID, Type: q.wire.Type, Message: q.wire.Message, OwnerID: q.ownerID})
	}
	return out
}
