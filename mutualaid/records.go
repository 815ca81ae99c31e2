package mutualaid

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// AID bucket keys. Every id in a key is an envelope id or a member id, so
// each is one subject token.
const (
	// requestPrefix + request id: the Request record.
	requestPrefix = "req."
	// offerPrefix + offer id: the id of the request the offer answers, so
	// that a decision can name the offer only.
	offerPrefix = "offer."
	// responderPrefix + responder id: the responderRecord (capability
	// registrations and capacity bookings).
	responderPrefix = "resp."
)

func requestKey(id string) string   { return requestPrefix + id }
func offerKey(id string) string     { return offerPrefix + id }
func responderKey(id string) string { return responderPrefix + id }

// Request is a mutual-aid request with its offers and timeline: the AID
// bucket's record and what the read path returns (filtered to what the
// reader may see).
type Request struct {
	// ID is the request's envelope id.
	ID string `json:"id"`
	// State is where the request is in its lifecycle.
	State RequestState `json:"state"`
	// Requester is the member that filed it.
	Requester string `json:"requester"`
	// Needs are the capability lines asked for, with what is accepted.
	Needs []Need `json:"needs"`
	// Urgency is the lane ("flash").
	Urgency string `json:"urgency"`
	// Region is where help is needed.
	Region string `json:"region"`
	// TLP is the request's TLP ("amber+strict").
	TLP string `json:"tlp"`
	// To are the organisations the requester addressed.
	To []string `json:"to,omitempty"`
	// Audience are the responders notified and allowed to see it (shown to
	// the requester and the liaison only).
	Audience []string `json:"audience,omitempty"`
	// ExpiresAt is when an open or partly-filled request expires.
	ExpiresAt time.Time `json:"expires_at"`
	// Note is the requester's free text.
	Note string `json:"note,omitempty"`
	// Exercise marks a drill.
	Exercise bool `json:"exercise,omitempty"`
	// CreatedAt is the request envelope's time.
	CreatedAt time.Time `json:"created_at"`
	// Offers are the offers made, oldest first.
	Offers []*Offer `json:"offers"`
	// Timeline is every step, oldest first.
	Timeline []Event `json:"timeline,omitempty"`
}

// Need is one line of a request.
type Need struct {
	// Capability is the capability type.
	Capability string `json:"capability"`
	// Quantity is the units needed.
	Quantity uint32 `json:"quantity"`
	// Accepted is the units accepted so far.
	Accepted uint32 `json:"accepted"`
}

// Offer is a responder's answer to a request.
type Offer struct {
	// ID is the offer's envelope id.
	ID string `json:"id"`
	// State is where the offer is in its lifecycle.
	State OfferState `json:"state"`
	// RequestID is the request it answers.
	RequestID string `json:"request_id"`
	// Responder is the member that made it.
	Responder string `json:"responder"`
	// Capability is the capability type offered.
	Capability string `json:"capability"`
	// CapabilityID is the responder's capability package it draws on.
	CapabilityID string `json:"capability_id"`
	// Quantity is the units offered.
	Quantity uint32 `json:"quantity"`
	// Accepted is the units accepted (at most Quantity); booked while the
	// offer is accepted, mobilising or on site.
	Accepted uint32 `json:"accepted,omitempty"`
	// ETA is the expected time from acceptance to arrival.
	ETA Duration `json:"eta"`
	// Contact is the capability's contact.
	Contact string `json:"contact,omitempty"`
	// Note is the responder's free text.
	Note string `json:"note,omitempty"`
	// CreatedAt is the offer envelope's time.
	CreatedAt time.Time `json:"created_at"`
}

// Event is one signed step of a request's timeline.
type Event struct {
	// ID is the envelope id of the signed message (in AID_AUDIT).
	ID string `json:"id"`
	// Action is the step.
	Action Action `json:"action"`
	// By is the member that signed it.
	By string `json:"by"`
	// KeyID is the key it was signed with.
	KeyID string `json:"key_id"`
	// At is the time in the signed envelope.
	At time.Time `json:"at"`
	// Offer is the offer concerned, if any.
	Offer string `json:"offer,omitempty"`
	// Quantity is the units of an offer or accept.
	Quantity uint32 `json:"quantity,omitempty"`
	// State is the state the step led to (the offer's for offer steps).
	State string `json:"state"`
	// Note is the signer's free text.
	Note string `json:"note,omitempty"`
}

// Duration is a time.Duration that JSON spells as "4h0m0s".
type Duration time.Duration

// MarshalJSON spells d as time.Duration.String does.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration spelled as time.ParseDuration accepts.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"4h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// offer returns the request's offer id, or nil.
func (r *Request) offer(id string) *Offer {
	i := slices.IndexFunc(r.Offers, func(o *Offer) bool { return o.ID == id })
	if i < 0 {
		return nil
	}
	return r.Offers[i]
}

// need returns the request's need line for a capability type, or nil.
func (r *Request) need(capability string) *Need {
	i := slices.IndexFunc(r.Needs, func(n Need) bool { return n.Capability == capability })
	if i < 0 {
		return nil
	}
	return &r.Needs[i]
}

// event returns the timeline entry of envelope id, or nil.
func (r *Request) event(id string) *Event {
	i := slices.IndexFunc(r.Timeline, func(e Event) bool { return e.ID == id })
	if i < 0 {
		return nil
	}
	return &r.Timeline[i]
}

// fillState is partly-filled or filled by what is accepted.
func (r *Request) fillState() RequestState {
	for _, n := range r.Needs {
		if n.Accepted < n.Quantity {
			return RequestPartlyFilled
		}
	}
	return RequestFilled
}

// needTypes lists the capability types asked for.
func (r *Request) needTypes() []string {
	out := make([]string, len(r.Needs))
	for i, n := range r.Needs {
		out[i] = n.Capability
	}
	return out
}

// liveResponders are the responders with an offer still in play, sorted.
func (r *Request) liveResponders() []string {
	var out []string
	for _, o := range r.Offers {
		if o.State.live() {
			out = append(out, o.Responder)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// clone deep-copies r through JSON (records are small).
func (r *Request) clone() *Request {
	var c Request
	data, _ := json.Marshal(r)
	_ = json.Unmarshal(data, &c)
	return &c
}

// responderRecord is a responder's mutable aid state: its capability
// registrations (updates over the registry's capabilities) and its
// capacity bookings. One record per responder, so an accept touches two
// keys: the request and the responder.
type responderRecord struct {
	// Responder is the member id.
	Responder string `json:"responder"`
	// Registrations are capability packages registered through Tocsin, by
	// capability id; one with the registry's id replaces that package, one
	// marked removed hides it.
	Registrations map[string]*Capability `json:"registrations,omitempty"`
	// Bookings are the units booked, by offer id.
	Bookings map[string]Booking `json:"bookings,omitempty"`
}

// Booking is capacity held by an accepted offer until it demobilises.
type Booking struct {
	// Capability is the capability id booked.
	Capability string `json:"capability"`
	// Request is the request the offer answers.
	Request string `json:"request"`
	// Units are the units booked.
	Units uint32 `json:"units"`
}

// decodeJSON unmarshals a record, naming the key when it is corrupt.
func decodeJSON[T any](key string, data []byte) (*T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("aid record %s is corrupt: %w", key, err)
	}
	return &v, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
