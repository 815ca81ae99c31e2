package records

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/internal/kvread"
)

// AddReachSet folds the members of set into out, each member's receipts
// merged with those of the other sets it is in (MergeReach).
func AddReachSet(out map[string]Reach, set *ReachSet) {
	for _, m := range set.Members() {
		rec, _ := set.Of(m)
		if prev, ok := out[m]; ok {
			rec = MergeReach(prev, rec)
		}
		out[m] = rec
	}
}

// ReceiptsOf reads from the REACH bucket kv every member's receipts of
// message id, whoever sent it, merged over its sets, by a watch of its
// keys: for the demo, tests and operators, who may read the whole bucket
// (the reach service reads a sender's own keys only).
func ReceiptsOf(ctx context.Context, kv jetstream.KeyValue, id string) (map[string]Reach, error) {
	return ReceiptsUnder(ctx, kv, "*."+id+".>")
}

// ReceiptsUnder reads every member's receipts in the REACH sets whose
// keys match pattern (ReachMessagePattern: one sender's message), merged
// over the sets.
func ReceiptsUnder(ctx context.Context, kv jetstream.KeyValue, pattern string) (map[string]Reach, error) {
	id := pattern
	w, err := kv.Watch(ctx, pattern, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read the receipts of %s: %w", id, err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]Reach{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("read the receipts of %s: the watch stopped", id)
			}
			if e == nil {
				return out, nil
			}
			var set ReachSet
			if json.Unmarshal(e.Value(), &set) == nil {
				AddReachSet(out, &set)
			}
		}
	}
}

// ReceiptOf is member's receipts of message id from ReceiptsOf; ok false
// when it has none.
func ReceiptOf(ctx context.Context, kv jetstream.KeyValue, id, member string) (r Reach, ok bool, err error) {
	all, err := ReceiptsOf(ctx, kv, id)
	if err != nil {
		return Reach{}, false, err
	}
	r, ok = all[member]
	return r, ok, nil
}

// ReadAffected reads the affected sets of sender's CSAF advisory id from
// the SIGHTINGS bucket (a service's connection: no member may read it)
// and returns each sector's total with the floor applied (none: not a
// liaison's CSAF advisory); never who.
func ReadAffected(ctx context.Context, nc *nats.Conn, apiPrefix, sender, id string) ([]AffectedTotal, error) {
	entries, err := kvread.LastOf(ctx, nc, apiPrefix, BucketSightings, AffectedKey(sender, id, "*"))
	if err != nil {
		return nil, fmt.Errorf("read the affected totals of %s: %w", id, err)
	}
	var out []AffectedTotal
	for _, e := range entries {
		var set AffectedSet
		if json.Unmarshal(e.Value, &set) == nil {
			out = append(out, NewAffectedTotal(e.Key[strings.LastIndexByte(e.Key, '.')+1:], len(set.Members)))
		}
	}
	slices.SortFunc(out, func(a, b AffectedTotal) int { return strings.Compare(a.Sector, b.Sector) })
	return out, nil
}
