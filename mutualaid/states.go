package mutualaid

import (
	"strings"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// RequestState is where a request is in its lifecycle.
type RequestState string

// Request states.
const (
	// RequestOpen: nothing accepted yet; offers and accepts are welcome.
	RequestOpen RequestState = "open"
	// RequestPartlyFilled: some of the need is accepted.
	RequestPartlyFilled RequestState = "partly-filled"
	// RequestFilled: every need line is accepted in full.
	RequestFilled RequestState = "filled"
	// RequestClosed: the requester closed it (final). Closing, cancelling
	// and expiring release the units its offers still book (OfferReleased).
	RequestClosed RequestState = "closed"
	// RequestCancelled: the requester cancelled it (final).
	RequestCancelled RequestState = "cancelled"
	// RequestExpired: it passed its expiry while still open or partly
	// filled (final).
	RequestExpired RequestState = "expired"
)

// OfferState is where an offer is in its lifecycle.
type OfferState string

// Offer states.
const (
	// OfferOffered: made, waiting for the requester.
	OfferOffered OfferState = "offered"
	// OfferWithdrawn: the responder took it back before acceptance (final).
	OfferWithdrawn OfferState = "withdrawn"
	// OfferDeclined: the requester said no (final).
	OfferDeclined OfferState = "declined"
	// OfferAccepted: accepted; the responder's capacity is booked.
	OfferAccepted OfferState = "accepted"
	// OfferMobilising: the responder is on its way.
	OfferMobilising OfferState = "mobilising"
	// OfferOnSite: the responder is on site.
	OfferOnSite OfferState = "on-site"
	// OfferDemobilised: the responder left; its capacity is free again (final).
	OfferDemobilised OfferState = "demobilised"
	// OfferReleased: the request ended (closed, cancelled or expired) while
	// the offer was accepted, mobilising or on site; its capacity is free
	// again (final).
	OfferReleased OfferState = "released"
)

// Action is a lifecycle step as the timeline and the command line spell it.
type Action string

// Actions.
const (
	ActRequest    Action = "request"    // a member files a request
	ActOffer      Action = "offer"      // a responder offers capacity
	ActAccept     Action = "accept"     // the requester accepts an offer (books capacity)
	ActDecline    Action = "decline"    // the requester declines an offer
	ActWithdraw   Action = "withdraw"   // the responder withdraws an offer not yet accepted
	ActMobilise   Action = "mobilise"   // the responder is on its way
	ActArrive     Action = "arrive"     // the responder is on site
	ActDemobilise Action = "demobilise" // the responder leaves (frees capacity)
	ActClose      Action = "close"      // the requester closes the request
	ActCancel     Action = "cancel"     // the requester cancels the request
	ActExpire     Action = "expire"     // the service expires a request past expires_at
	ActCapability Action = "capability" // a responder registers, changes or removes a capability
)

// actionOf maps the wire action of a decision to its Action.
var actionOf = map[tocsinv1.AidAction]Action{
	tocsinv1.AidAction_AID_ACTION_ACCEPT:     ActAccept,
	tocsinv1.AidAction_AID_ACTION_DECLINE:    ActDecline,
	tocsinv1.AidAction_AID_ACTION_WITHDRAW:   ActWithdraw,
	tocsinv1.AidAction_AID_ACTION_MOBILISE:   ActMobilise,
	tocsinv1.AidAction_AID_ACTION_ARRIVE:     ActArrive,
	tocsinv1.AidAction_AID_ACTION_DEMOBILISE: ActDemobilise,
	tocsinv1.AidAction_AID_ACTION_CLOSE:      ActClose,
	tocsinv1.AidAction_AID_ACTION_CANCEL:     ActCancel,
	tocsinv1.AidAction_AID_ACTION_EXPIRE:     ActExpire,
}

// WireAction returns the decision action for a, and false for the actions
// that are not decisions (request, offer, capability).
func WireAction(a Action) (tocsinv1.AidAction, bool) {
	for w, x := range actionOf {
		if x == a {
			return w, true
		}
	}
	return tocsinv1.AidAction_AID_ACTION_UNSPECIFIED, false
}

// move is one legal step: an action and the state it leads to.
type move[S ~string] struct {
	act Action
	to  S
}

// requestMoves are the request's legal steps from each state. An accept
// leads to partly-filled here; the service makes it filled when the
// accept completes every need line.
var requestMoves = map[RequestState][]move[RequestState]{
	RequestOpen: {
		{ActOffer, RequestOpen}, {ActAccept, RequestPartlyFilled}, {ActClose, RequestClosed},
		{ActCancel, RequestCancelled}, {ActExpire, RequestExpired},
	},
	RequestPartlyFilled: {
		{ActOffer, RequestPartlyFilled}, {ActAccept, RequestPartlyFilled}, {ActClose, RequestClosed},
		{ActCancel, RequestCancelled}, {ActExpire, RequestExpired},
	},
	RequestFilled:    {{ActClose, RequestClosed}, {ActCancel, RequestCancelled}},
	RequestClosed:    nil,
	RequestCancelled: nil,
	RequestExpired:   nil,
}

// offerMoves are an offer's legal steps from each state.
var offerMoves = map[OfferState][]move[OfferState]{
	OfferOffered:     {{ActAccept, OfferAccepted}, {ActDecline, OfferDeclined}, {ActWithdraw, OfferWithdrawn}},
	OfferAccepted:    {{ActMobilise, OfferMobilising}, {ActDemobilise, OfferDemobilised}},
	OfferMobilising:  {{ActArrive, OfferOnSite}, {ActDemobilise, OfferDemobilised}},
	OfferOnSite:      {{ActDemobilise, OfferDemobilised}},
	OfferWithdrawn:   nil,
	OfferDeclined:    nil,
	OfferDemobilised: nil,
	OfferReleased:    nil,
}

// offerLevel are the actions an offer's state must allow.
var offerLevel = map[Action]bool{ActAccept: true, ActDecline: true, ActWithdraw: true, ActMobilise: true, ActArrive: true, ActDemobilise: true}

// requestStep returns the state request id moves to on a, or an
// ILLEGAL_TRANSITION error naming the state and the moves it allows.
func requestStep(id string, from RequestState, a Action) (RequestState, error) {
	return step("request", id, requestMoves, from, a)
}

// offerStep returns the state offer id moves to on a, or an
// ILLEGAL_TRANSITION error naming the state and the moves it allows.
func offerStep(id string, from OfferState, a Action) (OfferState, error) {
	return step("offer", id, offerMoves, from, a)
}

func step[S ~string](what, id string, table map[S][]move[S], from S, a Action) (S, error) {
	moves := table[from]
	var allowed []string
	for _, m := range moves {
		if m.act == a {
			return m.to, nil
		}
		allowed = append(allowed, string(m.act))
	}
	if len(allowed) == 0 {
		return from, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_ILLEGAL_TRANSITION,
			"%s %s is %s, which is final: no step is allowed (not %s)", what, id, from, a)
	}
	return from, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_ILLEGAL_TRANSITION,
		"%s %s is %s: it allows %s, not %s", what, id, from, strings.Join(allowed, ", "), a)
}

// live reports whether an offer in state s still concerns its responder
// (not withdrawn, declined or demobilised).
func (s OfferState) live() bool { return len(offerMoves[s]) > 0 }

// needsHelp reports whether a request in state s still takes offers.
func (s RequestState) needsHelp() bool { return s == RequestOpen || s == RequestPartlyFilled }
