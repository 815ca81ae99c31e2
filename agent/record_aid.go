package agent

import (
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// Aid is an aid message's content in the record: one shape for a request,
// an offer and a decision, snake_case, durations in seconds, actions in
// lower case as the command line spells them.
type Aid struct {
	// Type is "request", "offer" or "decision".
	Type string `json:"type"`
	// Action is the step: "request", "offer", or a decision's action
	// ("accept", "decline", "withdraw", "mobilise", "arrive", "demobilise",
	// "close", "cancel", "expire").
	Action string `json:"action"`
	// RequestID is the request concerned: a request's own id.
	RequestID string `json:"request_id"`
	// OfferID is the offer a decision concerns.
	OfferID string `json:"offer_id,omitempty"`
	// Needs are a request's capability lines.
	Needs []AidNeed `json:"needs,omitempty"`
	// Region, To and ExpiresAt are a request's region, addressees and
	// expiry.
	Region    string     `json:"region,omitempty"`
	To        []string   `json:"to,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Capability is an offer's capability type.
	Capability string `json:"capability,omitempty"`
	// Quantity is the units offered, or accepted (0: the whole offer).
	Quantity uint32 `json:"quantity,omitempty"`
	// ETASeconds is an offer's expected time to arrival after acceptance.
	ETASeconds *int64 `json:"eta_seconds,omitempty"`
	// Note is the sender's free text.
	Note string `json:"note,omitempty"`
}

// AidNeed is one line of an aid request.
type AidNeed struct {
	Capability string `json:"capability"`
	Quantity   uint32 `json:"quantity"`
}

// fillAid copies an aid message into r. A request carries its own TLP,
// urgency and exercise mark. An offer or a decision takes them from the
// request it concerns, which the mutual-aid service puts in the copy's
// headers (records.HeaderTLP, HeaderLane, HeaderExercise); without them
// the TLP is AMBER and the lane routine (SeverityOf's rule for a lane it
// does not know): never less restrictive, never silent.
func (r *Record) fillAid(p proto.Message, hdr nats.Header) {
	r.Kind = KindAid
	switch m := p.(type) {
	case *tocsinv1.AidRequest:
		a := &Aid{Type: "request", Action: "request", RequestID: r.ID, Region: m.GetRegion(), To: m.GetTo(), Note: m.GetNote()}
		for _, n := range m.GetNeeds() {
			a.Needs = append(a.Needs, AidNeed{Capability: n.GetCapability(), Quantity: n.GetQuantity()})
		}
		if m.GetExpiresAt() != nil {
			t := m.GetExpiresAt().AsTime().UTC()
			a.ExpiresAt = &t
		}
		r.Aid, r.Exercise = a, m.GetExercise()
		r.TLP = derivedTLP(m.GetTlp(), hdr)
		r.setLane(m.GetUrgency())
		return
	case *tocsinv1.AidOffer:
		r.Aid = &Aid{Type: "offer", Action: "offer", RequestID: m.GetRequestId(), Capability: m.GetCapability(),
			Quantity: m.GetQuantity(), Note: m.GetNote()}
		if m.GetEta() != nil {
			s := int64(m.GetEta().AsDuration() / time.Second)
			r.Aid.ETASeconds = &s
		}
	case *tocsinv1.AidDecision:
		r.Aid = &Aid{Type: "decision", Action: strings.ToLower(strings.TrimPrefix(m.GetAction().String(), "AID_ACTION_")),
			RequestID: m.GetRequestId(), OfferID: m.GetOfferId(), Quantity: m.GetQuantity(), Note: m.GetNote()}
	}
	r.TLP = derivedTLP(tocsinv1.TLP_TLP_UNSPECIFIED, hdr)
	r.Exercise = hdr.Get(records.HeaderExercise) == "true"
	r.setLaneName(hdr.Get(records.HeaderLane))
}
