package mutualaid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/subjects"
)

// The read path. Members cannot read the AID and SITUATION buckets; they
// ask the service instead, on a subject that names them:
//
//	tocsin.svc.aid.<member>.<op>     ops show, list, capabilities
//	tocsin.svc.situation.<member>    the regional board
//
// The server's permissions let a member publish only on its own token, so
// the service answers as that member may see: the subject is the identity.
const (
	queryPrefix     = subjects.SvcAidPrefix
	situationPrefix = subjects.SvcSituationPrefix
)

// Op is a read-path operation.
type Op string

// Read-path operations.
const (
	// OpShow returns one request (ShowQuery → ShowReply).
	OpShow Op = "show"
	// OpList returns the requests the member may see (ListQuery → ListReply).
	OpList Op = "list"
	// OpCapabilities returns a responder's capabilities
	// (CapabilitiesQuery → CapabilitiesReply).
	OpCapabilities Op = "capabilities"
)

// QuerySubject is the subject member sends op requests on.
func QuerySubject(member string, op Op) string { return queryPrefix + member + "." + string(op) }

// QueryAll matches every member's aid read requests (what the service
// subscribes to, and what the TOCSIN account exports to members).
const QueryAll = queryPrefix + "*.*"

// SituationSubject is the subject member asks for a regional board on.
func SituationSubject(member string) string { return situationPrefix + member }

// SituationAll matches every member's board requests.
const SituationAll = situationPrefix + "*"

// ShowQuery asks for one request, by its id or the id of one of its offers.
type ShowQuery struct {
	// ID is a request id or an offer id.
	ID string `json:"id"`
}

// ShowReply is a request as the asking member may see it.
type ShowReply struct {
	// Request is the request, filtered for the reader.
	Request *Request `json:"request"`
	// Offer is the offer asked for, when ShowQuery.ID was an offer id.
	Offer *Offer `json:"offer,omitempty"`
}

// ListQuery asks for the requests the member may see.
type ListQuery struct {
	// Open keeps requests still taking offers (open, partly-filled).
	Open bool `json:"open,omitempty"`
	// Mine keeps the member's own requests and those it offered on.
	Mine bool `json:"mine,omitempty"`
}

// ListReply lists requests, newest first, without their timelines.
type ListReply struct {
	// Requests are the requests, filtered for the reader.
	Requests []*Request `json:"requests"`
}

// CapabilitiesQuery asks for a responder's capabilities.
type CapabilitiesQuery struct {
	// Responder is the responder; empty means the asking member. Only the
	// liaison may ask for another's.
	Responder string `json:"responder,omitempty"`
}

// CapabilitiesReply lists capabilities with their booked and free units.
type CapabilitiesReply struct {
	// Capabilities, sorted by id; removed ones included, marked removed.
	Capabilities []*Capability `json:"capabilities"`
}

// SituationQuery asks for a regional board.
type SituationQuery struct {
	// Region; empty means the asking member's own.
	Region string `json:"region,omitempty"`
}

// answer is the read path's reply: a result or an error.
type answer struct {
	Error  *answerError    `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// answerError is a coded refusal of a read request.
type answerError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// firstAttempt is how long Ask waits for the first answer before it asks
// again; each later attempt waits twice as long as the one before.
const firstAttempt = 2 * time.Second

// Ask sends a read request on subject with body in and decodes the result
// into out. A refusal is a *codes.Error (unknown-reference, not-permitted,
// invalid-field).
//
// A read changes nothing, so a request that gets no answer is sent again:
// core NATS delivers a request at most once, and one sent to a node's
// service as that node goes down is lost. Attempts wait 2 s, 4 s, 8 s ...
// until ctx ends.
func Ask(ctx context.Context, nc *nats.Conn, subject string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	var msg *nats.Msg
	for wait := firstAttempt; ; wait *= 2 {
		actx, cancel := context.WithTimeout(ctx, wait)
		msg, err = nc.RequestWithContext(actx, subject, body)
		cancel()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("ask %s: %w", subject, err)
	}
	var a answer
	if err := json.Unmarshal(msg.Data, &a); err != nil {
		return fmt.Errorf("ask %s: the answer does not decode: %w", subject, err)
	}
	if a.Error != nil {
		if c, ok := codes.Parse(a.Error.Code); ok {
			return codes.Errorf(c, "%s", a.Error.Message)
		}
		return fmt.Errorf("ask %s: %s", subject, a.Error.Message)
	}
	if err := json.Unmarshal(a.Result, out); err != nil {
		return fmt.Errorf("ask %s: the result does not decode: %w", subject, err)
	}
	return nil
}

// parseQuery returns the member and op of a read-path subject.
func parseQuery(subject string) (member string, op Op, ok bool) {
	if rest, found := strings.CutPrefix(subject, situationPrefix); found {
		return rest, "situation", rest != "" && !strings.Contains(rest, ".")
	}
	rest, found := strings.CutPrefix(subject, queryPrefix)
	member, o, _ := strings.Cut(rest, ".")
	return member, Op(o), found && member != "" && o != "" && !strings.Contains(o, ".")
}
