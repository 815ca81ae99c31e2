package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/internal/kvread"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// oldReachPattern matches the REACH keys of the shape before per-sector
// sets, "<message id>.<member>": two tokens, where a set's key has three
// or four.
const oldReachPattern = "*.*"

// migrateTimeout bounds one conversion of the old REACH keys.
const migrateTimeout = 30 * time.Minute

// migrateChunk is how many old keys are converted at once.
const migrateChunk = 1024

// migrateReach converts, once, the REACH keys an earlier version wrote,
// one per member and message, into the sets of today's shape, and purges
// them: every node's router does it at start, in the background (the
// merges are idempotent, so nodes converting at once agree). A key of a
// message with no routed outcome (nobody's reach) is purged unconverted.
// Until it has run, readers do not see the old receipts. It returns how
// many keys it converted.
func (r *Router) migrateReach(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	entries, err := kvread.Latest(ctx, r.d.JS.Conn(), kvread.APIPrefix(r.d.JS.Options()), r.bucket(records.BucketReach), oldReachPattern)
	if err != nil {
		return 0, err
	}
	converted := 0
	for len(entries) > 0 {
		n := min(len(entries), migrateChunk)
		chunk := entries[:n]
		entries = entries[n:]
		var batches []*reachBatch
		for _, e := range chunk {
			bts, err := r.convertOld(ctx, e)
			if err != nil {
				return converted, err
			}
			batches = append(batches, bts...)
		}
		if err := waitBatches(ctx, batches); err != nil {
			return converted, err
		}
		for _, e := range chunk {
			if err := r.reach.Purge(ctx, e.Key); err != nil {
				return converted, err
			}
		}
		converted += n
	}
	return converted, nil
}

// convertOld queues the old-shape record e into today's sets.
func (r *Router) convertOld(ctx context.Context, e kvread.Entry) ([]*reachBatch, error) {
	id, member, _ := strings.Cut(e.Key, ".")
	var old records.Reach
	if json.Unmarshal(e.Value, &old) != nil {
		return nil, nil
	}
	routed, err := r.routedOf(ctx, r.localRecords(), "", id)
	if err != nil {
		return nil, err
	}
	m, err := r.d.Registry.Member(ctx, member)
	if err != nil {
		m = &tocsinv1.Member{Id: member} // no longer registered: its receipts go to the direct set
	}
	var out []*reachBatch
	for _, rm := range routed {
		keys, _ := r.reachKeys(r.reachBatch, rm, id, m)
		for _, k := range keys {
			for _, c := range []reachChange{
				{member: member, state: records.ReachDelivered, at: old.Delivered},
				{member: member, state: records.ReachAcknowledged, at: old.Acknowledged, by: old.By},
				{member: member, state: records.ReachActioned, at: old.Actioned, by: old.By},
			} {
				if !c.at.IsZero() {
					out = append(out, r.reachBatch.add(k.key, false, k.own, c))
				}
			}
		}
	}
	return out, nil
}

// startMigrateReach runs migrateReach in the background until ctx ends.
func (r *Router) startMigrateReach(ctx context.Context) {
	go func() {
		for attempt := 0; ctx.Err() == nil; attempt++ {
			n, err := r.migrateReach(ctx)
			if err == nil {
				if n > 0 {
					r.log.Info("converted the REACH keys of an earlier version into per-sector sets", zap.Int("keys", n))
				}
				return
			}
			if errors.Is(err, context.Canceled) {
				return
			}
			r.log.Warn("cannot convert the REACH keys of an earlier version yet; trying again in a minute", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(time.Minute):
			}
		}
	}()
}
