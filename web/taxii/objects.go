package taxii

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web/store"
)

// filters lists which query parameters an endpoint takes.
type filters struct {
	id, typ, version, specVersion bool
}

var (
	objectsFilters  = filters{id: true, typ: true, version: true, specVersion: true}
	objectFilters   = filters{version: true, specVersion: true}
	versionsFilters = filters{specVersion: true}
)

// parseQuery reads added_after, limit, next and the match[] filters f
// allows; any other parameter is an error, so a typo does not silently
// widen a query.
func (s *Server) parseQuery(v url.Values, f filters) (store.Query, error) {
	q := store.Query{Limit: s.opts.PageSize}
	for name := range v {
		switch {
		case name == "added_after" || name == "limit" || name == "next":
		case name == "match[id]" && f.id, name == "match[type]" && f.typ,
			name == "match[version]" && f.version, name == "match[spec_version]" && f.specVersion:
		default:
			return q, fmt.Errorf("parameter %q is not supported here", name)
		}
	}
	if a := v.Get("added_after"); a != "" {
		t, err := time.Parse(time.RFC3339Nano, a)
		if err != nil {
			return q, fmt.Errorf("added_after %q is not an RFC 3339 timestamp", a)
		}
		q.AddedAfter = t
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return q, fmt.Errorf("limit %q is not a positive integer", l)
		}
		q.Limit = min(n, s.opts.MaxPageSize)
	}
	q.Next = v.Get("next")
	list := func(name string) []string {
		var out []string
		for _, value := range v[name] {
			for part := range strings.SplitSeq(value, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
		return out
	}
	q.IDs, q.Types, q.Versions, q.SpecVersions = list("match[id]"), list("match[type]"), list("match[version]"), list("match[spec_version]")
	return q, nil
}

// run resolves the collection, parses the query and runs it; it writes
// the error and returns nil when something is wrong.
func (s *Server) run(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member, f filters, fixed func(*store.Query)) (*store.Page, bool) {
	c, ok := findCollection(m, r.PathValue("collection"))
	if !ok {
		fail(w, http.StatusNotFound, "no such collection", "no collection "+r.PathValue("collection")+" that you may read")
		return nil, false
	}
	q, err := s.parseQuery(r.URL.Query(), f)
	if err != nil {
		fail(w, http.StatusBadRequest, "bad query", err.Error())
		return nil, false
	}
	if fixed != nil {
		fixed(&q)
	}
	page, err := s.d.Store.Query(m, c.of, q)
	switch {
	case errors.Is(err, store.ErrBadQuery):
		fail(w, http.StatusBadRequest, "bad query", err.Error())
		return nil, false
	case errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, "no such collection", err.Error())
		return nil, false
	case err != nil:
		fail(w, http.StatusInternalServerError, "query failed", err.Error())
		return nil, false
	}
	if n := len(page.Entries); n > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", store.FormatTime(page.Entries[0].Added))
		w.Header().Set("X-TAXII-Date-Added-Last", store.FormatTime(page.Entries[n-1].Added))
	}
	return page, true
}

// pageResource is a page in TAXII's shape: more, next, and the items
// under key (left out when there are none: the empty envelope).
func pageResource[T any](page *store.Page, key string, item func(store.Entry) T) map[string]any {
	res := map[string]any{"more": page.More}
	if page.Next != "" {
		res["next"] = page.Next
	}
	if len(page.Entries) > 0 {
		items := make([]T, 0, len(page.Entries))
		for _, e := range page.Entries {
			items = append(items, item(e))
		}
		res[key] = items
	}
	return res
}

// envelopeOf is TAXII's envelope resource of a page.
func envelopeOf(page *store.Page) map[string]any {
	return pageResource(page, "objects", func(e store.Entry) json.RawMessage { return e.Object.Raw })
}

// objects is GET collections/{id}/objects/.
func (s *Server) objects(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member) {
	if page, ok := s.run(w, r, m, objectsFilters, nil); ok {
		writeJSON(w, http.StatusOK, envelopeOf(page))
	}
}

// manifestRecord is one line of a manifest.
type manifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

// manifest is GET collections/{id}/manifest/.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member) {
	page, ok := s.run(w, r, m, objectsFilters, nil)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, pageResource(page, "objects", func(e store.Entry) manifestRecord {
		return manifestRecord{ID: e.Object.ID, DateAdded: store.FormatTime(e.Added), Version: e.Object.VersionText, MediaType: MediaSTIX}
	}))
}

// exists reports whether collection c of m holds any version of object id.
func (s *Server) exists(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member, id string) bool {
	c, ok := findCollection(m, r.PathValue("collection"))
	if !ok {
		fail(w, http.StatusNotFound, "no such collection", "no collection "+r.PathValue("collection")+" that you may read")
		return false
	}
	page, err := s.d.Store.Query(m, c.of, store.Query{IDs: []string{id}, Versions: []string{"all"}, Limit: 1})
	if err != nil || len(page.Entries) == 0 {
		fail(w, http.StatusNotFound, "no such object", "no object "+id+" in this collection that you may read")
		return false
	}
	return true
}

// object is GET collections/{id}/objects/{object}/.
func (s *Server) object(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member) {
	id := r.PathValue("object")
	if !s.exists(w, r, m, id) {
		return
	}
	if page, ok := s.run(w, r, m, objectFilters, func(q *store.Query) { q.IDs = []string{id} }); ok {
		writeJSON(w, http.StatusOK, envelopeOf(page))
	}
}

// versions is GET collections/{id}/objects/{object}/versions/.
func (s *Server) versions(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member) {
	id := r.PathValue("object")
	if !s.exists(w, r, m, id) {
		return
	}
	page, ok := s.run(w, r, m, versionsFilters, func(q *store.Query) { q.IDs, q.Versions = []string{id}, []string{"all"} })
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, pageResource(page, "versions", func(e store.Entry) string { return e.Object.VersionText }))
}
