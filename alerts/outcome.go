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
	"github.com/tocsin-project/tocsin/records"
)

// Outcome returns the recorded outcome of a message, or nil when there is
// none yet.
func (r *Router) Outcome(ctx context.Context, sender, id string) (*tocsinv1.Outcome, error) {
	return records.GetOutcome(ctx, r.routed, sender, id)
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
	_, err = r.routed.Create(ctx, records.OutcomeKey(sender, o.GetRefId()), data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record outcome of %s: %w", o.GetRefId(), err)
	}
	return nil
}
