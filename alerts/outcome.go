package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// OutcomeKey is the ROUTED bucket key of a message: "<sender>.<id>". The
// sender comes first so the server's permissions can let a member read the
// outcomes of its own messages and no one else's.
func OutcomeKey(sender, id string) string { return sender + "." + id }

// Outcome returns the recorded outcome of a message, or nil when there is
// none yet.
func (r *Router) Outcome(ctx context.Context, sender, id string) (*tocsinv1.Outcome, error) {
	return GetOutcome(ctx, r.routed, sender, id)
}

// GetOutcome reads a message's outcome from the ROUTED bucket; nil, nil
// when it has none yet.
func GetOutcome(ctx context.Context, kv jetstream.KeyValue, sender, id string) (*tocsinv1.Outcome, error) {
	e, err := kv.Get(ctx, OutcomeKey(sender, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read outcome of %s: %w", id, err)
	}
	var o tocsinv1.Outcome
	if err := proto.Unmarshal(e.Value(), &o); err != nil {
		return nil, fmt.Errorf("outcome of %s is corrupt: %w", id, err)
	}
	return &o, nil
}

// putOutcome records o under its sender and id. The first outcome of an
// id stands: a later attempt to record another is ignored.
func (r *Router) putOutcome(ctx context.Context, sender string, o *tocsinv1.Outcome) error {
	if o.At == nil {
		o.At = timestamppb.New(time.Now())
	}
	data, err := proto.Marshal(o)
	if err != nil {
		return err
	}
	_, err = r.routed.Create(ctx, OutcomeKey(sender, o.GetRefId()), data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record outcome of %s: %w", o.GetRefId(), err)
	}
	return nil
}
