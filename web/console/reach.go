package console

import (
	"context"
	"net/http"
	"slices"

	"github.com/tocsin-project/tocsin/internal/kvread"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/reach"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/web/store"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// reachRow is one organisation's receipts for a message.
type reachRow struct {
	records.Reach
	Name string `json:"name"`
}

// reachGroup is a sector's (or the direct recipients') reach.
type reachGroup struct {
	// Sector is the sector, or "direct" for inbox recipients.
	Sector       string   `json:"sector"`
	Members      int      `json:"members"`
	Delivered    int      `json:"delivered"`
	Acknowledged int      `json:"acknowledged"`
	Actioned     int      `json:"actioned"`
	Waiting      []string `json:"not_acknowledged"`
	// Affected is, for a liaison's CSAF advisory, how many members of the
	// sector said they are affected: "12", "fewer than 3"; never who.
	Affected string     `json:"affected,omitempty"`
	Rows     []reachRow `json:"rows"`
}

// reachView answers "did every organisation get it?" for one message.
type reachView struct {
	ID     string       `json:"id"`
	Title  string       `json:"title"`
	Kind   string       `json:"kind"`
	Groups []reachGroup `json:"groups"`
}

// reach is GET api/reach/{id}: the liaison's view of who has received,
// acknowledged and acted on a message, per sector.
func (s *Server) reach(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	if !members.HasRole(id.Member, tocsinv1.Role_ROLE_LIAISON) {
		apiError(w, http.StatusForbidden, "reach figures are the liaison's")
		return
	}
	m, err := s.d.Store.Message(id.Member, r.PathValue("id"))
	if err != nil {
		apiError(w, http.StatusNotFound, "no message "+r.PathValue("id")+" that you may see")
		return
	}
	view, err := s.reachOf(r.Context(), m)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// reachOf reads the REACH records of m and groups them by destination.
func (s *Server) reachOf(ctx context.Context, m *store.Message) (*reachView, error) {
	got, err := records.ReceiptsUnder(ctx, s.d.Reach, records.ReachMessagePattern(m.Sender, m.ID))
	if err != nil {
		return nil, err
	}
	affected, err := records.ReadAffected(ctx, s.d.JS.Conn(), kvread.APIPrefix(s.d.JS.Options()), m.Sender, m.ID)
	if err != nil {
		return nil, err
	}
	view := &reachView{ID: m.ID, Title: m.Title, Kind: m.Kind, Groups: []reachGroup{}}
	group := func(name string, who []*tocsinv1.Member) {
		// The rule tocsin reach counts by: the sender is not among those it
		// reached.
		who = slices.DeleteFunc(who, func(mem *tocsinv1.Member) bool { return !reach.Counted(mem, m.Sender, m.Added) })
		g := reachGroup{Sector: name, Members: len(who), Waiting: []string{}, Rows: []reachRow{}}
		for _, a := range affected {
			if a.Sector == name {
				g.Affected = a.String()
			}
		}
		for _, mem := range who {
			row := reachRow{Reach: records.Reach{Member: mem.GetId()}, Name: mem.GetName()}
			if rec, ok := got[mem.GetId()]; ok {
				row.Reach = rec
			}
			if !row.Delivered.IsZero() {
				g.Delivered++
			}
			if !row.Acknowledged.IsZero() {
				g.Acknowledged++
			} else {
				g.Waiting = append(g.Waiting, mem.GetId())
			}
			if !row.Actioned.IsZero() {
				g.Actioned++
			}
			g.Rows = append(g.Rows, row)
		}
		view.Groups = append(view.Groups, g)
	}
	for _, sector := range m.Sectors {
		group(sector, s.d.Registry.InSectors([]string{sector}))
	}
	if len(m.Inboxes) > 0 {
		var who []*tocsinv1.Member
		for _, id := range m.Inboxes {
			if mem, err := s.d.Registry.Member(ctx, id); err == nil {
				who = append(who, mem)
			}
		}
		group("direct", who)
	}
	return view, nil
}
