package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web/store"
)

// StatusBucket keeps what a POST submitted, for its status resource: key
// "<member>.<envelope id>".
const StatusBucket = "TAXIISTATUS"

// objectRef is one submitted object.
type objectRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

// statusRecord is a submission as stored.
type statusRecord struct {
	Requested time.Time   `json:"requested"`
	Objects   []objectRef `json:"objects"`
}

// statusDetails is TAXII's status-details.
type statusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// statusResource is TAXII's status resource.
type statusResource struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp,omitempty"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	Successes        []statusDetails `json:"successes,omitempty"`
	FailureCount     int             `json:"failure_count"`
	Failures         []statusDetails `json:"failures,omitempty"`
	PendingCount     int             `json:"pending_count"`
	Pendings         []statusDetails `json:"pendings,omitempty"`
}

func statusKey(member, id string) string { return member + "." + id }

// saveStatus records a submission before it is published.
func (s *Server) saveStatus(ctx context.Context, member, id string, rec statusRecord) error {
	data, _ := json.Marshal(rec)
	_, err := s.d.Status.Create(ctx, statusKey(member, id), data)
	return err
}

// status is GET status/{status}/: only the member that posted sees it.
func (s *Server) status(w http.ResponseWriter, r *http.Request, m *tocsinv1.Member) {
	id := r.PathValue("status")
	e, err := s.d.Status.Get(r.Context(), statusKey(m.GetId(), id))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		fail(w, http.StatusNotFound, "no such status", "no request "+id+" of yours")
		return
	}
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "status unavailable", err.Error())
		return
	}
	var rec statusRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		fail(w, http.StatusInternalServerError, "status corrupt", err.Error())
		return
	}
	res, err := s.statusOf(r.Context(), m.GetId(), id, rec)
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "status unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// statusOf builds the status resource from the router's outcome.
func (s *Server) statusOf(ctx context.Context, member, id string, rec statusRecord) (*statusResource, error) {
	o, err := s.d.Relay.Outcome(ctx, member, id)
	if err != nil {
		return nil, err
	}
	return buildStatus(id, rec, o), nil
}

// buildStatus maps an outcome (nil: none yet) to a status resource.
func buildStatus(id string, rec statusRecord, o *tocsinv1.Outcome) *statusResource {
	res := &statusResource{ID: id, Status: "complete", RequestTimestamp: store.FormatTime(rec.Requested), TotalCount: len(rec.Objects)}
	each := func(list *[]statusDetails, message func(objectRef) string) {
		for _, ref := range rec.Objects {
			*list = append(*list, statusDetails{ID: ref.ID, Version: ref.Version, Message: message(ref)})
		}
	}
	switch o.GetState() {
	case tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED:
		msg := fmt.Sprintf("routed as alert %s to %d organisations", id, o.GetOrganisations())
		each(&res.Successes, func(objectRef) string { return msg })
	case tocsinv1.OutcomeState_OUTCOME_STATE_DUPLICATE:
		msg := "already alerted as " + o.GetDuplicateOf() + ": counted as a sighting of it"
		each(&res.Successes, func(objectRef) string { return msg })
	case tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED:
		each(&res.Failures, rejectionMessages(o.GetRejection()))
	case tocsinv1.OutcomeState_OUTCOME_STATE_HELD:
		res.Status = "pending"
		each(&res.Pendings, func(objectRef) string { return "held by the flash cap: an operator must release it" })
	default:
		res.Status = "pending"
		each(&res.Pendings, func(objectRef) string { return "waiting for the router" })
	}
	res.SuccessCount, res.FailureCount, res.PendingCount = len(res.Successes), len(res.Failures), len(res.Pendings)
	return res
}

// rejectionMessages says why each object failed: the problems naming it,
// else the problems of the whole bundle, else the first problem.
func rejectionMessages(rej *tocsinv1.Rejection) func(objectRef) string {
	byObject := map[string][]string{}
	var general []string
	first := "refused"
	for i, p := range rej.GetProblems() {
		line := codes.Name(p.GetCode()) + ": " + p.GetMessage()
		if i == 0 {
			first = "the bundle was refused because of another object: " + line
		}
		if p.GetObjectId() == "" {
			general = append(general, line)
		} else {
			byObject[p.GetObjectId()] = append(byObject[p.GetObjectId()], line)
		}
	}
	return func(ref objectRef) string {
		if lines := byObject[ref.ID]; len(lines) > 0 {
			return strings.Join(lines, "; ")
		}
		if len(general) > 0 {
			return strings.Join(general, "; ")
		}
		return first
	}
}
