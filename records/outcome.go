package records

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// OutcomeKey is the ROUTED bucket key of a message: "<sender>.<id>". The
// sender comes first so the server's permissions can let a member read the
// outcomes of its own messages and no one else's.
func OutcomeKey(sender, id string) string { return sender + "." + id }

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

// RouterKeyPrefix starts the ROUTED keys of the router's own records that
// are not outcomes: the dedupe claims of pattern sets and the indicator
// index, written in one atomic batch with a routed alert's outcome. No
// member id starts with "_", so no member reads them (members read only
// "<member>.>") and no outcome key is one of them.
const RouterKeyPrefix = "_."

// IsOutcomeKey reports whether a ROUTED key is an outcome's
// ("<sender>.<id>"), not one of the router's own records.
func IsOutcomeKey(key string) bool { return !strings.HasPrefix(key, RouterKeyPrefix) }
