package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/web/relay"
	"github.com/tocsin-project/tocsin/web/store"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// objectView is a STIX object as the alert page shows it.
type objectView struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Name    string          `json:"name,omitempty"`
	Pattern string          `json:"pattern,omitempty"`
	TLP     string          `json:"tlp"`
	Version string          `json:"version"`
	Raw     json.RawMessage `json:"raw"`
}

// messageView is a message with the objects the reader may see.
type messageView struct {
	*store.Message
	Verified bool         `json:"verified"`
	Objects  []objectView `json:"objects"`
	// BodyHTML is an advisory's Markdown body rendered safely (markdown).
	BodyHTML string `json:"body_html,omitempty"`
	// Acknowledged and Actioned are when the reader's own receipts of
	// this state were recorded (REACH); zero: not yet.
	Acknowledged time.Time `json:"acknowledged,omitzero"`
	Actioned     time.Time `json:"actioned,omitzero"`
	// Sightings are the counts of organisations that have seen its
	// indicators, per sector the reader may read them in.
	Sightings []sightingView `json:"sightings"`
}

// listView is m as a list shows it to member: its receipts and sighting
// counts, without objects.
func (s *Server) listView(member *tocsinv1.Member, m *store.Message, receipts map[string]records.Reach) messageView {
	v := viewOf(m, false)
	r := receipts[m.ID]
	v.Acknowledged, v.Actioned = r.Acknowledged, r.Actioned
	v.Sightings = s.sightings.of(member, m.Sender, m.ID)
	return v
}

func viewOf(m *store.Message, withObjects bool) messageView {
	v := messageView{Message: m, Verified: true}
	if withObjects {
		v.BodyHTML = renderMarkdown(m.Body)
		v.Objects = []objectView{}
		for _, o := range m.Objects {
			v.Objects = append(v.Objects, objectView{ID: o.ID, Type: o.Type, Name: o.Name, Pattern: o.Pattern, TLP: o.TLP.String(), Version: o.VersionText, Raw: o.Raw})
		}
	}
	return v
}

// messages is GET api/messages?kind=&lane=&tlp=&sector=&sender=&exercise=&q=&limit=N:
// the messages the member may see that pass the filters (filter), newest
// first, each with the member's receipts and the sighting counts.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := 200
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = min(l, 1000)
	}
	var kept []*store.Message
	for _, m := range s.d.Store.Messages(id.Member, f.Kind, 0) {
		if len(kept) == limit {
			break
		}
		if !f.keeps(id.Member, m) {
			continue
		}
		if f.Query != "" {
			// Only the objects the member may read are searched.
			readable, err := s.d.Store.Message(id.Member, m.ID)
			if err != nil || !f.matches(readable.Objects) {
				continue
			}
		}
		kept = append(kept, m)
	}
	receipts, err := s.receiptsOf(r.Context(), id.Member, kept)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	out := []messageView{}
	for _, m := range kept {
		out = append(out, s.listView(id.Member, m, receipts))
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out, "ready": s.d.Store.IsReady()})
}

// message is GET api/messages/{id}.
func (s *Server) message(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	m, err := s.d.Store.Message(id.Member, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		apiError(w, http.StatusNotFound, "no message "+r.PathValue("id")+" that you may see")
		return
	}
	receipts, err := s.receiptsOf(r.Context(), id.Member, []*store.Message{m})
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	v := viewOf(m, true)
	rc := receipts[m.ID]
	v.Acknowledged, v.Actioned = rc.Acknowledged, rc.Actioned
	v.Sightings = s.sightings.of(id.Member, m.Sender, m.ID)
	writeJSON(w, http.StatusOK, v)
}

// receiptStates are the receipts a member may send from the console.
var receiptStates = map[string]tocsinv1.ReceiptState{
	"delivered":    tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED,
	"acknowledged": tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED,
	"actioned":     tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED,
}

// maxBy is the longest "by" a receipt may carry, in bytes.
const maxBy = 128

// receipt is POST api/messages/{id}/receipt {state, note, by}: a receipt
// of the logged-in member, relayed via "console"; by names who at the
// member acknowledged ("J. Ortiz, SOC").
func (s *Server) receipt(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	var in struct{ State, Note, By string }
	if !readJSON(w, r, &in, `{"state": "acknowledged", "by": "J. Ortiz, SOC"}`) {
		return
	}
	in.By = strings.TrimSpace(in.By)
	if len(in.By) > maxBy {
		apiError(w, http.StatusBadRequest, "by is at most 128 bytes: a name and a role")
		return
	}
	state, ok := receiptStates[in.State]
	if !ok {
		apiError(w, http.StatusBadRequest, "state is delivered, acknowledged or actioned")
		return
	}
	m, err := s.d.Store.Message(id.Member, r.PathValue("id"))
	if err != nil {
		apiError(w, http.StatusNotFound, "no message "+r.PathValue("id")+" that you may see")
		return
	}
	rc := &tocsinv1.Receipt{RefId: m.ID, RefSender: m.Sender, State: state, Note: in.Note, By: in.By}
	env, err := s.d.Relay.Publish(r.Context(), id.Member.GetId(), tocsinv1.Kind_KIND_RECEIPT, rc, relay.ViaConsole)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"receipt": env.GetId(), "state": in.State})
}

// summary is what an event stream sends of a new message.
type summary struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Title      string    `json:"title"`
	Lane       string    `json:"lane"`
	TLP        string    `json:"tlp"`
	Sender     string    `json:"sender"`
	SenderName string    `json:"sender_name"`
	Via        string    `json:"via,omitempty"`
	Exercise   bool      `json:"exercise,omitempty"`
	Signed     time.Time `json:"signed"`
	Added      time.Time `json:"added"`
}

func summaryOf(m *store.Message) summary {
	return summary{ID: m.ID, Kind: m.Kind, Title: m.Title, Lane: m.Lane, TLP: m.TLPName, Sender: m.Sender,
		SenderName: m.SenderName, Via: m.Via, Exercise: m.Exercise, Signed: m.Signed, Added: m.Added}
}
