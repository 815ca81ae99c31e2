package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web/relay"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// aidError answers a read-path error with the status its code means.
func aidError(w http.ResponseWriter, err error) {
	switch codes.Of(err) {
	case tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE:
		apiError(w, http.StatusNotFound, err.Error())
	case tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED:
		apiError(w, http.StatusForbidden, err.Error())
	case tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD:
		apiError(w, http.StatusBadRequest, err.Error())
	default:
		apiError(w, http.StatusServiceUnavailable, "the mutual-aid service did not answer: "+err.Error())
	}
}

// noAid answers when the node has no aid read path; it reports whether it
// did.
func (s *Server) noAid(w http.ResponseWriter) bool {
	if s.d.Aid == nil {
		apiError(w, http.StatusNotImplemented, "the mutual-aid read path is not available on this node")
		return true
	}
	return false
}

// aidList is GET api/aid: the requests the member may see.
func (s *Server) aidList(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	if s.noAid(w) {
		return
	}
	out, err := s.d.Aid.List(r.Context(), id.Member.GetId())
	if err != nil {
		aidError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// aidShow is GET api/aid/{id}: one request with its offers and timeline.
func (s *Server) aidShow(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	if s.noAid(w) {
		return
	}
	out, err := s.d.Aid.Show(r.Context(), id.Member.GetId(), r.PathValue("id"))
	if err != nil {
		aidError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// decisionActions are the decisions the console makes for a requester.
var decisionActions = map[string]tocsinv1.AidAction{
	"accept":  tocsinv1.AidAction_AID_ACTION_ACCEPT,
	"decline": tocsinv1.AidAction_AID_ACTION_DECLINE,
	"close":   tocsinv1.AidAction_AID_ACTION_CLOSE,
	"cancel":  tocsinv1.AidAction_AID_ACTION_CANCEL,
}

// aidDecision is POST api/aid/{id}/decision {action, offer, quantity,
// note}: the member's decision on its request, relayed via "console". The
// answer waits briefly for the service's outcome.
func (s *Server) aidDecision(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	var in struct {
		Action, Offer, Note string
		Quantity            uint32
	}
	if !readJSON(w, r, &in, `{"action": "accept", "offer": ...}`) {
		return
	}
	action, ok := decisionActions[in.Action]
	if !ok {
		apiError(w, http.StatusBadRequest, "action is accept, decline, close or cancel")
		return
	}
	d := &tocsinv1.AidDecision{RequestId: r.PathValue("id"), OfferId: in.Offer, Action: action, Quantity: in.Quantity, Note: in.Note}
	env, err := s.d.Relay.Publish(r.Context(), id.Member.GetId(), tocsinv1.Kind_KIND_AID_DECISION, d, relay.ViaConsole)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	out := map[string]string{"decision": env.GetId(), "state": "pending"}
	o, err := s.d.Relay.WaitOutcome(r.Context(), id.Member.GetId(), env.GetId(), 3*time.Second)
	if err == nil && o != nil {
		out["state"] = strings.ToLower(strings.TrimPrefix(o.GetState().String(), "OUTCOME_STATE_"))
		if ps := o.GetRejection().GetProblems(); len(ps) > 0 {
			out["reason"] = codes.Name(ps[0].GetCode()) + ": " + ps[0].GetMessage()
		}
	}
	writeJSON(w, http.StatusAccepted, out)
}

// situation is GET api/situation?region=: a region's board.
func (s *Server) situation(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	if s.noAid(w) {
		return
	}
	out, err := s.d.Aid.Board(r.Context(), id.Member.GetId(), r.URL.Query().Get("region"))
	if err != nil {
		aidError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
