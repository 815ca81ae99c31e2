package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
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
}

func viewOf(m *store.Message, withObjects bool) messageView {
	v := messageView{Message: m, Verified: true}
	if withObjects {
		v.Objects = []objectView{}
		for _, o := range m.Objects {
			v.Objects = append(v.Objects, objectView{ID: o.ID, Type: o.Type, Name: o.Name, Pattern: o.Pattern, TLP: o.TLP.String(), Version: o.VersionText, Raw: o.Raw})
		}
	}
	return v
}

// messages is GET api/messages?kind=alert|advisory&limit=N.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	kind := r.URL.Query().Get("kind")
	if kind != "" && kind != store.KindAlert && kind != store.KindAdvisory {
		apiError(w, http.StatusBadRequest, "kind is alert or advisory")
		return
	}
	limit := 200
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = min(l, 1000)
	}
	out := []messageView{}
	for _, m := range s.d.Store.Messages(id.Member, kind, limit) {
		out = append(out, viewOf(m, false))
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
	writeJSON(w, http.StatusOK, viewOf(m, true))
}

// receiptStates are the receipts a member may send from the console.
var receiptStates = map[string]tocsinv1.ReceiptState{
	"delivered":    tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED,
	"acknowledged": tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED,
	"actioned":     tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED,
}

// receipt is POST api/messages/{id}/receipt {state, note}: a receipt of
// the logged-in member, relayed via "console".
func (s *Server) receipt(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	var in struct{ State, Note string }
	if !readJSON(w, r, &in, `{"state": "acknowledged"}`) {
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
	rc := &tocsinv1.Receipt{RefId: m.ID, State: state, Note: in.Note}
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
