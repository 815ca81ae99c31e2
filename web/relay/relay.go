// Package relay publishes what a member does through the web face (a
// TAXII submission, a console receipt or aid decision) as a message of
// that member: sealed with the node's service key on the member's behalf,
// with a via ("taxii", "console"), on the member's own ingest subject. The
// router and the mutual-aid service accept it when the node's service
// member is one of their verifier's relays (envelope.VerifyOptions.Relays);
// every recipient sees who sent it and that a node relayed it.
package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// Vias: how a relayed message entered Tocsin.
const (
	// ViaTAXII marks an alert posted to a TAXII collection.
	ViaTAXII = "taxii"
	// ViaConsole marks a receipt or aid decision made in the console.
	ViaConsole = "console"
)

// Relay seals and publishes messages for members.
type Relay struct {
	js     jetstream.JetStream
	signer *envelope.Signer
	routed jetstream.KeyValue
	region string
}

// Options configure a Relay. The zero value is the default.
type Options struct {
	// Region is the node's region in a supercluster whose regions each
	// hold a stream set (docs/REGIONS.md): messages are published on the
	// region's ingest subjects (INGEST-<region>, which the region's router
	// reads) and outcomes read from ROUTED-<region>. Default "": a single
	// cluster's INGEST and ROUTED.
	Region string
}

// New returns a Relay publishing with js and signing with signer, the
// node's service signer ("svc-<node>").
func New(ctx context.Context, js jetstream.JetStream, signer *envelope.Signer, opts Options) (*Relay, error) {
	bucket := subjects.RegionStream(records.BucketRouted, opts.Region)
	routed, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("relay: open bucket %s: %w", bucket, err)
	}
	return &Relay{js: js, signer: signer, routed: routed, region: opts.Region}, nil
}

// relayed are the kinds a member may relay through the web face.
var relayed = map[tocsinv1.Kind]bool{
	tocsinv1.Kind_KIND_ALERT: true, tocsinv1.Kind_KIND_RECEIPT: true, tocsinv1.Kind_KIND_STATUS_REPORT: true,
	tocsinv1.Kind_KIND_AID_DECISION: true, tocsinv1.Kind_KIND_AID_REQUEST: true, tocsinv1.Kind_KIND_AID_OFFER: true,
}

// Publish seals payload as a message of member, relayed via via, and
// publishes it on the member's ingest subject, waiting for the stream's
// acknowledgement. It returns the envelope (its id names the outcome).
// opts may fix the id (envelope.WithID) when the caller records it first.
func (r *Relay) Publish(ctx context.Context, member string, kind tocsinv1.Kind, payload proto.Message, via string, opts ...envelope.SealOption) (*tocsinv1.Envelope, error) {
	token, ok := records.IngestToken(kind)
	if !ok || !relayed[kind] {
		return nil, fmt.Errorf("relay: %s is not relayed", kind)
	}
	env, err := r.signer.Seal(kind, payload, append(opts, envelope.OnBehalfOf(member), envelope.WithVia(via))...)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return nil, err
	}
	if _, err := r.js.Publish(ctx, subjects.InRegion(r.region, subjects.Ingest(token, member)), data, jetstream.WithMsgID(env.GetId())); err != nil {
		return nil, fmt.Errorf("relay: publish %s for %s: %w", kind, member, err)
	}
	return env, nil
}

// Outcome returns the router's (or the aid service's) outcome of member's
// message id, nil while there is none.
func (r *Relay) Outcome(ctx context.Context, member, id string) (*tocsinv1.Outcome, error) {
	return records.GetOutcome(ctx, r.routed, member, id)
}

// WaitOutcome polls the outcome for at most wait; nil when none came.
func (r *Relay) WaitOutcome(ctx context.Context, member, id string, wait time.Duration) (*tocsinv1.Outcome, error) {
	deadline := time.Now().Add(wait)
	for {
		o, err := r.Outcome(ctx, member, id)
		if err != nil || o != nil || !time.Now().Before(deadline) {
			return o, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
