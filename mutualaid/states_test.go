package mutualaid

import (
	"errors"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

var illegal = codes.Err(tocsinv1.RejectionCode_REJECTION_CODE_ILLEGAL_TRANSITION)

// TestRequestTransitions checks every request state against every
// request-level action: the legal ones lead where the lifecycle says, the
// others are ILLEGAL_TRANSITION naming the state and the allowed moves.
func TestRequestTransitions(t *testing.T) {
	legal := map[RequestState]map[Action]RequestState{
		RequestOpen: {ActOffer: RequestOpen, ActAccept: RequestPartlyFilled, ActClose: RequestClosed, ActCancel: RequestCancelled, ActExpire: RequestExpired},
		RequestPartlyFilled: {ActOffer: RequestPartlyFilled, ActAccept: RequestPartlyFilled, ActClose: RequestClosed,
			ActCancel: RequestCancelled, ActExpire: RequestExpired},
		RequestFilled:    {ActClose: RequestClosed, ActCancel: RequestCancelled},
		RequestClosed:    {},
		RequestCancelled: {},
		RequestExpired:   {},
	}
	checkTable(t, "request", requestMoves, legal, []Action{ActOffer, ActAccept, ActClose, ActCancel, ActExpire})
}

// TestOfferTransitions does the same for offers.
func TestOfferTransitions(t *testing.T) {
	legal := map[OfferState]map[Action]OfferState{
		OfferOffered:     {ActAccept: OfferAccepted, ActDecline: OfferDeclined, ActWithdraw: OfferWithdrawn},
		OfferAccepted:    {ActMobilise: OfferMobilising, ActDemobilise: OfferDemobilised},
		OfferMobilising:  {ActArrive: OfferOnSite, ActDemobilise: OfferDemobilised},
		OfferOnSite:      {ActDemobilise: OfferDemobilised},
		OfferWithdrawn:   {},
		OfferDeclined:    {},
		OfferDemobilised: {},
		OfferReleased:    {},
	}
	checkTable(t, "offer", offerMoves, legal, []Action{ActAccept, ActDecline, ActWithdraw, ActMobilise, ActArrive, ActDemobilise})
}

// checkTable tries every action from every state of table against the
// legal moves the test expects.
func checkTable[S ~string](t *testing.T, what string, table map[S][]move[S], legal map[S]map[Action]S, actions []Action) {
	t.Helper()
	for from, moves := range legal {
		for _, a := range actions {
			to, err := step(what, "X1", table, from, a)
			want, ok := moves[a]
			checkStep(t, what, string(from), a, string(to), string(want), ok, err, allowedOf(moves))
		}
	}
	if len(legal) != len(table) {
		t.Fatalf("the test covers %d %s states, the lifecycle has %d", len(legal), what, len(table))
	}
}

func allowedOf[S ~string](moves map[Action]S) []string {
	var out []string
	for a := range moves {
		out = append(out, string(a))
	}
	return out
}

func checkStep(t *testing.T, what, from string, a Action, to, want string, legal bool, err error, allowed []string) {
	t.Helper()
	if legal {
		if err != nil || to != want {
			t.Errorf("%s %s + %s = %s, %v; want %s", what, from, a, to, err, want)
		}
		return
	}
	if !errors.Is(err, illegal) {
		t.Errorf("%s %s + %s = %s, %v; want illegal-transition", what, from, a, to, err)
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, " is "+from) || !strings.Contains(msg, "not "+string(a)) {
		t.Errorf("%s %s + %s: %q does not name the state and the step", what, from, a, msg)
	}
	if len(allowed) == 0 && !strings.Contains(msg, "final") {
		t.Errorf("%s %s + %s: %q does not say the state is final", what, from, a, msg)
	}
	for _, m := range allowed {
		if !strings.Contains(msg, m) {
			t.Errorf("%s %s + %s: %q does not name the allowed move %s", what, from, a, msg, m)
		}
	}
}

// TestEveryWireActionIsAStep keeps actionOf in step with the proto enum.
func TestEveryWireActionIsAStep(t *testing.T) {
	for n, name := range tocsinv1.AidAction_name {
		a := tocsinv1.AidAction(n)
		if a == tocsinv1.AidAction_AID_ACTION_UNSPECIFIED {
			continue
		}
		step, ok := actionOf[a]
		if !ok {
			t.Errorf("%s has no lifecycle step", name)
			continue
		}
		if back, ok := WireAction(step); !ok || back != a {
			t.Errorf("WireAction(%s) = %v, want %s", step, back, name)
		}
		if !inMoves(requestMoves, step) && !inMoves(offerMoves, step) {
			t.Errorf("%s is a step of neither a request nor an offer", step)
		}
	}
}

func inMoves[S ~string](table map[S][]move[S], a Action) bool {
	for _, moves := range table {
		for _, m := range moves {
			if m.act == a {
				return true
			}
		}
	}
	return false
}
