package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// BadClass is what became of one class of bad input.
type BadClass struct {
	Class  string `json:"class"`
	Expect string `json:"expect"`
	Sent   int    `json:"sent"`
	// Acked are those JetStream acknowledged (stored in INGEST).
	Acked int `json:"acked"`
	// Judged are those that came to what was expected: rejected with an
	// outcome and a rejection in REJECTIONS, refused at publish, or
	// dropped as a replay.
	Judged int `json:"judged"`
	// Codes counts the rejection codes (or publish errors) seen.
	Codes map[string]int `json:"codes"`
	// Example is one reason, as the sender reads it.
	Example string `json:"example,omitempty"`
	// Failures counts the messages that did not come to what was expected.
	Failures int `json:"failures"`
}

// BadInputReport is the bad-input campaign's result.
type BadInputReport struct {
	Classes []BadClass `json:"classes"`
	Sent    int        `json:"sent"`
	// Undecodable are acknowledged messages that are no envelope at all;
	// their rejections carry no id, so they are counted: Rejections
	// without an id must be at least as many.
	Undecodable           int `json:"undecodable"`
	UndecodableRejections int `json:"undecodable_rejections"`
	// RejectionP50Seconds and RejectionMaxSeconds are the time from a
	// bad message's publish to its REJECTED outcome.
	RejectionP50Seconds float64 `json:"rejection_p50_seconds"`
	RejectionMaxSeconds float64 `json:"rejection_max_seconds"`
	// Failures say what did not come to what was expected (the first
	// five of each class).
	Failures     []string `json:"failures,omitempty"`
	FailureCount int      `json:"failure_count"`
	perClass     map[string]int
}

// fail records a failure of class; the first few of each class are kept.
func (r *BadInputReport) fail(class, format string, v ...any) {
	r.FailureCount++
	if r.perClass == nil {
		r.perClass = map[string]int{}
	}
	r.perClass[class]++
	if r.perClass[class] <= 5 {
		r.Failures = append(r.Failures, fmt.Sprintf(format, v...))
	}
}

// readRejections drains the member's rejections consumer on stream
// (REJECTIONS, or its home region's REJECTIONS-<region>) and returns the
// rejections by the id they refer to ("" for undecodable messages). With
// seen, a rejection whose envelope id it holds is skipped (the consumer
// delivers again what it did not see acknowledged), and new ones are added.
func readRejections(ctx context.Context, c *client.Client, stream string, seen map[string]bool) (map[string][]*tocsinv1.Rejection, error) {
	cons, err := c.JetStream().Consumer(ctx, stream, auth.RejectionsConsumer(c.Member()))
	if err != nil {
		return nil, fmt.Errorf("%s's rejections consumer: %w", c.Member(), err)
	}
	out := map[string][]*tocsinv1.Rejection{}
	err = fetchAll(cons, func(m jetstream.Msg) error {
		env, err := envelope.Decode(m.Data(), 0)
		if err != nil {
			return fmt.Errorf("a rejection that is no envelope: %w", err)
		}
		var rej tocsinv1.Rejection
		if err := proto.Unmarshal(env.GetPayload(), &rej); err != nil {
			return fmt.Errorf("rejection %s: %w", env.GetId(), err)
		}
		if seen != nil {
			if seen[env.GetId()] {
				return m.Ack()
			}
			seen[env.GetId()] = true
		}
		out[rej.GetRefId()] = append(out[rej.GetRefId()], &rej)
		return m.Ack()
	})
	return out, err
}

// fetchAll pulls every message cons has now and calls f with each.
func fetchAll(cons jetstream.Consumer, f func(jetstream.Msg) error) error {
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if err := f(m); err != nil {
				return err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// problemText is a rejection's first problem as "code: message".
func problemText(rej *tocsinv1.Rejection) (string, string) {
	if len(rej.GetProblems()) == 0 {
		return "no-problem", "a rejection without a problem"
	}
	p := rej.GetProblems()[0]
	return codes.Name(p.GetCode()), p.GetMessage()
}

// waitBadInput judges the bad input once every piece came to what it must
// or ctx ends, reading outcomes and rejections as they come: a rejection
// can come after the drain (a piece first delivered on a node that then
// died reaches the router again only after its ack wait). The error is
// the last failure to read the rejections, from stream (the sender's
// REJECTIONS).
func waitBadInput(ctx context.Context, c *client.Client, stream string, events []BadEvent, sinks map[string][]SinkLine, originals map[string]bool) (*BadInputReport, error) {
	outcomes := map[string]*tocsinv1.Outcome{}
	rejections := map[string][]*tocsinv1.Rejection{}
	seen := map[string]bool{}
	var readErr error
	_ = poll(ctx, time.Second, func() error {
		for _, e := range events {
			id := e.EnvID
			if e.ReplayOf != "" {
				id = e.ReplayOf
			}
			if !e.Acked || id == "" || outcomes[id] != nil {
				continue
			}
			if o, err := c.Outcome(ctx, id); err == nil && o != nil {
				outcomes[id] = o
			}
		}
		var rejs map[string][]*tocsinv1.Rejection
		if rejs, readErr = readRejections(ctx, c, stream, seen); readErr != nil {
			return readErr
		}
		for id, rs := range rejs {
			rejections[id] = append(rejections[id], rs...)
		}
		if r := judgeBadInput(events, outcomes, rejections, sinks, originals); r.FailureCount > 0 {
			return fmt.Errorf("%d pieces of bad input not handled yet", r.FailureCount)
		}
		return nil
	})
	return judgeBadInput(events, outcomes, rejections, sinks, originals), readErr
}

// judgeBadInput checks that every piece of bad input came to what it
// must, and that none reached a sink (originals are legitimate alerts the
// main check judges).
func judgeBadInput(events []BadEvent, outcomes map[string]*tocsinv1.Outcome, rejections map[string][]*tocsinv1.Rejection, sinks map[string][]SinkLine, originals map[string]bool) *BadInputReport {
	r := &BadInputReport{}
	classes := map[string]*BadClass{}
	var order []string
	var latencies []float64
	for _, e := range events {
		bc := classes[e.Class]
		if bc == nil {
			bc = &BadClass{Class: e.Class, Expect: e.Expect, Codes: map[string]int{}}
			classes[e.Class] = bc
			order = append(order, e.Class)
		}
		r.Sent++
		bc.Sent++
		if e.Acked {
			bc.Acked++
		}
		ok := false
		switch e.Expect {
		case expectRefused:
			if e.Acked {
				r.fail(e.Class, "%s %s (%d bytes) was acknowledged: it should have been refused", e.Class, e.MsgID, e.Bytes)
				break
			}
			ok = true
			bc.Codes[shortErr(e.Err)]++
			bc.Example = e.Err
		case expectRejected:
			if !e.Acked {
				r.fail(e.Class, "%s %s was never acknowledged (%s): not judged", e.Class, e.MsgID, e.Err)
				break
			}
			if e.EnvID == "" {
				// Judged by count below: its rejection has no id.
				r.Undecodable++
				ok = true
				bc.Codes["no id: counted"]++
				break
			}
			o := outcomes[e.EnvID]
			rejs := rejections[e.EnvID]
			switch {
			case o == nil:
				r.fail(e.Class, "%s %s: no outcome", e.Class, e.EnvID)
			case o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED:
				r.fail(e.Class, "%s %s was not rejected: outcome %s", e.Class, e.EnvID, o.GetState())
			case len(rejs) == 0:
				r.fail(e.Class, "%s %s was rejected but its rejection is not in REJECTIONS", e.Class, e.EnvID)
			default:
				ok = true
				code, msg := problemText(o.GetRejection())
				bc.Codes[code]++
				bc.Example = code + ": " + msg
				latencies = append(latencies, o.GetAt().AsTime().Sub(e.At).Seconds())
			}
		case expectDropped:
			o := outcomes[e.ReplayOf]
			code := ""
			for _, rej := range rejections[e.ReplayOf] {
				if c, _ := problemText(rej); code != "replay" {
					code = c
				}
			}
			switch {
			case !e.Acked:
				r.fail(e.Class, "%s of %s was never acknowledged (%s)", e.Class, e.ReplayOf, e.Err)
			case e.Class == "replay-same-msgid" && !e.Duplicate:
				r.fail(e.Class, "replay of %s with the same message id was stored again (PubAck not a duplicate)", e.ReplayOf)
			case e.Class == "replay-new-msgid" && code != "replay":
				r.fail(e.Class, "replay of %s with a new message id: rejection %q, want one with reason replay", e.ReplayOf, code)
			case o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED:
				r.fail(e.Class, "%s of %s: the original's outcome is %s, not routed", e.Class, e.ReplayOf, o.GetState())
			default:
				ok = true
				if e.Class == "replay-same-msgid" {
					bc.Codes["duplicate PubAck"]++
					bc.Example = "JetStream's duplicate window: the copy is not stored"
				} else {
					bc.Codes["replay"]++
					bc.Example = "replay: the copy is dropped, the original's outcome stands, delivered once"
				}
			}
		}
		if ok {
			bc.Judged++
		} else {
			bc.Failures++
		}
	}
	r.UndecodableRejections = len(rejections[""])
	if r.UndecodableRejections < r.Undecodable {
		r.fail("undecodable", "%d undecodable messages were acknowledged, but only %d rejections without an id are in REJECTIONS", r.Undecodable, r.UndecodableRejections)
	}
	for agent, lines := range sinks {
		for _, l := range lines {
			if l.Sender == fuzzerID && !originals[l.ID] {
				r.fail("delivered", "bad input %s reached %s's sink", l.ID, agent)
			}
		}
	}
	for _, name := range order {
		r.Classes = append(r.Classes, *classes[name])
	}
	if len(latencies) > 0 {
		sort.Float64s(latencies)
		r.RejectionP50Seconds = latencies[len(latencies)/2]
		r.RejectionMaxSeconds = latencies[len(latencies)-1]
	}
	return r
}

// shortErr is the gist of a publish error.
func shortErr(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return strings.TrimPrefix(s, "nats: ")
}
