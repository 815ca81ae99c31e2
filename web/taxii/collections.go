package taxii

import (
	"net/http"
	"slices"

	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web/store"
)

// collection is TAXII's collection resource, with what it reads.
type collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`

	of store.Collection
}

// namespace is the UUIDv5 namespace of Tocsin's collection ids.
var namespace = [16]byte{0x5d, 0x1b, 0x3f, 0x2a, 0x8c, 0x41, 0x4e, 0x0f, 0x9a, 0x6e, 0x2b, 0x7c, 0x10, 0xd4, 0x83, 0x55}

// uuid5 is the collection id of name: the same on every node.
func uuid5(name string) string { return ids.V5(namespace, name) }

// canPublish reports whether m may publish alerts (the router's rule).
func canPublish(m *tocsinv1.Member) bool {
	return members.HasRole(m, tocsinv1.Role_ROLE_MEMBER) || members.HasRole(m, tocsinv1.Role_ROLE_RESPONDER) ||
		members.HasRole(m, tocsinv1.Role_ROLE_LIAISON)
}

// collectionsFor lists what m may read: one collection per sector of its
// (writable: a POST there alerts the sector), its own inbox and the
// advisories of its sectors. A member's inbox id is its own: no two
// members share it.
func collectionsFor(m *tocsinv1.Member) []collection {
	var out []collection
	sectors := slices.Clone(m.GetSectors())
	slices.Sort(sectors)
	for _, s := range sectors {
		out = append(out, collection{ID: uuid5("sector:" + s), Alias: "sector-" + s, Title: s + " alerts",
			Description: "alerts routed to the " + s + " sector; POST a TLP-marked bundle here to alert the sector",
			CanRead:     true, CanWrite: canPublish(m), MediaTypes: []string{MediaSTIX},
			of: store.Collection{Kind: store.CollSector, Sector: s}})
	}
	out = append(out,
		collection{ID: uuid5("inbox:" + m.GetId()), Alias: "inbox", Title: "direct inbox of " + m.GetId(),
			Description: "alerts addressed to " + m.GetId() + " by name, including AMBER+STRICT and RED",
			CanRead:     true, MediaTypes: []string{MediaSTIX}, of: store.Collection{Kind: store.CollInbox}},
		collection{ID: uuid5("advisories"), Alias: "advisories", Title: "advisories",
			Description: "the liaison's advisories to the sectors of " + m.GetId(),
			CanRead:     true, MediaTypes: []string{MediaSTIX}, of: store.Collection{Kind: store.CollAdvisories}})
	return out
}

// findCollection returns m's collection with the given id or alias.
func findCollection(m *tocsinv1.Member, id string) (collection, bool) {
	for _, c := range collectionsFor(m) {
		if c.ID == id || c.Alias == id {
			return c, true
		}
	}
	return collection{}, false
}

// collectionsResource is GET collections.
func (s *Server) collectionsResource(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member) {
	writeJSON(w, http.StatusOK, map[string]any{"collections": collectionsFor(m)})
}

// collectionResource is GET collections/{id}.
func (s *Server) collectionResource(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member) {
	c, ok := findCollection(m, r.PathValue("collection"))
	if !ok {
		fail(w, http.StatusNotFound, "no such collection", "no collection "+r.PathValue("collection")+" that you may read; list them at collections/")
		return
	}
	writeJSON(w, http.StatusOK, c)
}
