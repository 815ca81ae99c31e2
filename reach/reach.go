// Package reach answers who received and acted on a message: the query over
// the router's outcome of it, the public member directory and the REACH
// bucket of receipts, for the message's own sender (the liaison's
// advisory, a hospital's alert).
package reach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/tlp"
)

// ErrNotRouted is wrapped when the message whose reach is asked for has no
// routed outcome among the asker's own messages.
var ErrNotRouted = errors.New("not a routed message of yours")

// Report is who has received and acted on a message, per sector.
type Report struct {
	// ID is the message id.
	ID string `json:"id"`
	// Routed is when the router routed it; TLP its effective TLP.
	Routed time.Time `json:"routed"`
	TLP    string    `json:"tlp"`
	// Sectors are the addressed sectors, each with its members.
	Sectors []Sector `json:"sectors"`
	// Recipients are the organisations reached through their inbox.
	Recipients []Member `json:"recipients,omitempty"`
	// Organisations, Delivered, Acknowledged and Actioned count distinct
	// organisations over every sector and recipient.
	Organisations int `json:"organisations"`
	Delivered     int `json:"delivered"`
	Acknowledged  int `json:"acknowledged"`
	Actioned      int `json:"actioned"`
	// ContactsError says why a liaison's report has no contacts (the
	// service refused or could not be reached); the figures stand.
	ContactsError string `json:"contacts_error,omitempty"`
}

// Sector is one sector's part of a Report.
type Sector struct {
	Sector       string   `json:"sector"`
	Members      []Member `json:"members"`
	Delivered    int      `json:"delivered"`
	Acknowledged int      `json:"acknowledged"`
	Actioned     int      `json:"actioned"`
	// NotYet are the members with no receipt at all.
	NotYet []string `json:"not_yet"`
	// Affected is, in a liaison's report of its CSAF advisory only, how
	// many of the sector's members said they run an affected product: "12",
	// or "fewer than 3" (records.AffectedFloor); never who.
	Affected string `json:"affected,omitempty"`
}

// Member is one organisation's receipts; zero times are states not
// reached.
type Member struct {
	Member       string    `json:"member"`
	Name         string    `json:"name"`
	Delivered    time.Time `json:"delivered,omitzero"`
	Acknowledged time.Time `json:"acknowledged,omitzero"`
	Actioned     time.Time `json:"actioned,omitzero"`
	// By is who acknowledged, as the member's receipt said it.
	By string `json:"by,omitempty"`
	// Contact is the member's 24/7 contact from the registry, for the
	// follow-up call: only in a liaison's report, only for a member that
	// has not acknowledged.
	Contact string `json:"contact,omitempty"`
}

// Of reports the receipts of message id, one the connected member sent
// (the liaison's advisory): the router's outcome says which sectors and
// recipients it addressed, the public directory which organisations were
// members of those sectors when it was routed, and the REACH bucket what
// each has sent back. It needs, besides the routed-outcome read every
// member has, the directory request and the router's reach request
// (records.FetchReach), which every member may make for its own messages.
func Of(ctx context.Context, cl *client.Client, id string) (*Report, error) {
	if !envelope.ValidID(id) {
		return nil, fmt.Errorf("%q is not a message id", id)
	}
	o, err := cl.Outcome(ctx, id)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, fmt.Errorf("%w: %s has no message %s; reach shows the messages you sent", ErrNotRouted, cl.Member(), id)
	}
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		return nil, fmt.Errorf("%w: %s was %s, not routed", ErrNotRouted, id, o.GetState())
	}
	dir, err := records.FetchDirectory(ctx, cl.Conn())
	if err != nil {
		return nil, err
	}
	at := o.GetAt().AsTime()
	byID := map[string]*tocsinv1.Member{}
	for _, m := range dir {
		byID[m.GetId()] = m
	}
	rep := &Report{ID: id, Routed: at.UTC(), TLP: tlpName(o.GetTlp())}
	bySector := map[string][]string{}
	wanted := map[string]bool{}
	for _, m := range dir {
		if !Counted(m, cl.Member(), at) {
			continue
		}
		for _, s := range m.GetSectors() {
			if slices.Contains(o.GetSectors(), s) {
				bySector[s] = append(bySector[s], m.GetId())
				wanted[m.GetId()] = true
			}
		}
	}
	recipients := slices.DeleteFunc(slices.Clone(o.GetRecipients()), func(r string) bool { return r == cl.Member() })
	for _, r := range recipients {
		wanted[r] = true
	}
	receipts, affected, err := readReach(ctx, cl, id, wanted)
	if err != nil {
		return nil, err
	}
	member := func(mid string) Member {
		r := receipts[mid]
		return Member{Member: mid, Name: byID[mid].GetName(), Delivered: r.Delivered, Acknowledged: r.Acknowledged, Actioned: r.Actioned, By: r.By}
	}
	for _, s := range o.GetSectors() {
		sr := Sector{Sector: s, NotYet: []string{}}
		for _, a := range affected {
			if a.Sector == s {
				sr.Affected = a.String()
			}
		}
		ids := bySector[s]
		slices.Sort(ids)
		for _, mid := range ids {
			mr := member(mid)
			sr.Members = append(sr.Members, mr)
			count(mr, &sr.Delivered, &sr.Acknowledged, &sr.Actioned)
			if mr.Delivered.IsZero() {
				sr.NotYet = append(sr.NotYet, mid)
			}
		}
		rep.Sectors = append(rep.Sectors, sr)
	}
	for _, mid := range recipients {
		rep.Recipients = append(rep.Recipients, member(mid))
	}
	for mid := range wanted {
		rep.Organisations++
		count(member(mid), &rep.Delivered, &rep.Acknowledged, &rep.Actioned)
	}
	if members.HasRole(byID[cl.Member()], tocsinv1.Role_ROLE_LIAISON) {
		addContacts(ctx, cl, rep)
	}
	return rep, nil
}

func count(m Member, delivered, acknowledged, actioned *int) {
	if !m.Delivered.IsZero() {
		*delivered++
	}
	if !m.Acknowledged.IsZero() {
		*acknowledged++
	}
	if !m.Actioned.IsZero() {
		*actioned++
	}
}

func tlpName(t tocsinv1.TLP) string {
	if l, err := tlp.FromProto(t); err == nil {
		return l.String()
	}
	return ""
}

// readReach asks the router for the receipts of id, a message the
// connected member sent, of the members who, and its affected totals
// (records.FetchReachAffected).
func readReach(ctx context.Context, cl *client.Client, id string, who map[string]bool) (map[string]records.Reach, []records.AffectedTotal, error) {
	ids := make([]string, 0, len(who))
	for mid := range who {
		ids = append(ids, mid)
	}
	slices.Sort(ids)
	out, affected, err := records.FetchReachAffected(ctx, cl.Conn(), cl.Member(), id, ids)
	if errors.Is(err, records.ErrReachRefused) {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotRouted, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the receipts of %s: %w", id, err)
	}
	return out, affected, nil
}
