package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
	"github.com/tocsin-project/tocsin/web/store"
)

// filter is what the board's query parameters keep; a zero field keeps
// everything.
type filter struct {
	// Kind is "alert" or "advisory" (kind=).
	Kind string
	// Lane is flash, urgent, routine or info (lane=).
	Lane string
	// TLP is a TLP as the command line spells it (tlp=amber).
	TLP string
	// Sector is a sector, or "direct" for the member's inbox (sector=).
	Sector string
	// Sender is the sender's member id (sender=).
	Sender string
	// Exercise is "only" (drills only) or "hide" (no drills) (exercise=).
	Exercise string
	// Query is part of an indicator's value, or of the pattern or name of
	// an object the member may read, any case (q=203.0.113.7).
	Query string
}

var errFilter = errors.New("bad filter")

var lanes = []string{"flash", "urgent", "routine", "info"}

// parseFilter reads the board's query parameters.
func parseFilter(q url.Values) (filter, error) {
	f := filter{Kind: q.Get("kind"), Lane: q.Get("lane"), TLP: strings.ToLower(q.Get("tlp")), Sector: q.Get("sector"),
		Sender: q.Get("sender"), Exercise: q.Get("exercise"), Query: strings.TrimSpace(q.Get("q"))}
	switch {
	case f.Kind != "" && f.Kind != store.KindAlert && f.Kind != store.KindAdvisory:
		return f, fmt.Errorf("%w: kind is alert or advisory", errFilter)
	case f.Lane != "" && !slices.Contains(lanes, f.Lane):
		return f, fmt.Errorf("%w: lane is flash, urgent, routine or info", errFilter)
	case f.Exercise != "" && f.Exercise != "only" && f.Exercise != "hide":
		return f, fmt.Errorf("%w: exercise is only or hide", errFilter)
	}
	if f.TLP != "" {
		l, err := tlp.Parse(f.TLP)
		if err != nil {
			return f, fmt.Errorf("%w: tlp is clear, green, amber, amber+strict or red", errFilter)
		}
		f.TLP = l.String()
	}
	return f, nil
}

// keeps reports whether m passes every filter but the query; m is as
// member may see it.
func (f filter) keeps(member *tocsinv1.Member, m *store.Message) bool {
	switch {
	case f.Kind != "" && m.Kind != f.Kind,
		f.Lane != "" && m.Lane != f.Lane,
		f.TLP != "" && m.TLPName != f.TLP,
		f.Sender != "" && m.Sender != f.Sender,
		f.Exercise == "only" && !m.Exercise,
		f.Exercise == "hide" && m.Exercise:
		return false
	case f.Sector == "direct":
		return slices.Contains(m.Inboxes, member.GetId())
	case f.Sector != "":
		return slices.Contains(m.Sectors, f.Sector) && slices.Contains(member.GetSectors(), f.Sector)
	}
	return true
}

// matches reports whether one of objects (those the member may read) has
// the query in its pattern, its name or, for a cyber-observable, its
// value, any case.
func (f filter) matches(objects []*store.Object) bool {
	if f.Query == "" {
		return true
	}
	q := strings.ToLower(f.Query)
	return slices.ContainsFunc(objects, func(o *store.Object) bool {
		var sco struct{ Value string }
		if o.Pattern == "" {
			_ = json.Unmarshal(o.Raw, &sco)
		}
		return strings.Contains(strings.ToLower(o.Pattern), q) || strings.Contains(strings.ToLower(o.Name), q) ||
			strings.Contains(strings.ToLower(sco.Value), q)
	})
}
