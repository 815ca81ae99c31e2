package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/records"
)

// Before the router's record became one atomic batch to ROUTED, the dedupe
// claims lived in DEDUPE ("p.<pattern set>.<sector>", 24 hours) and the
// indicator index in SIGHTINGS ("i.<indicator>", 90 days). migrateLegacy
// copies them into ROUTED once; the old records are left to expire.

func legacyClaimPrefix() string           { return "p." }
func legacyIndicatorKey(id string) string { return "i." + id }

// migratedKey marks in ROUTED that the legacy records were copied.
const migratedKey = records.RouterKeyPrefix + "migrated.records-v1"

// migrateLegacy copies every legacy dedupe claim and indicator index record
// into ROUTED under its new key, unless migratedKey says it was done. A
// record already there stands (every node may migrate at once); a claim
// keeps its time (the entry's), so its dedupe window ends when it would
// have. It reports how many records it copied.
func (r *Router) migrateLegacy(ctx context.Context) (int, error) {
	if _, err := r.routed.Get(ctx, migratedKey); err == nil {
		return 0, nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, fmt.Errorf("alerts: read %s: %w", migratedKey, err)
	}
	n := 0
	copyAll := func(kv jetstream.KeyValue, filter string, rekey func(key string, e jetstream.KeyValueEntry) (string, []byte, bool)) error {
		keys, err := kv.ListKeysFiltered(ctx, filter)
		if err != nil {
			return err
		}
		for k := range keys.Keys() {
			e, err := kv.Get(ctx, k)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue // expired meanwhile
			}
			if err != nil {
				_ = keys.Stop()
				return err
			}
			to, value, ok := rekey(k, e)
			if !ok {
				r.log.Warn("a legacy record that does not read was not migrated", zap.String("bucket", kv.Bucket()), zap.String("key", k))
				continue
			}
			if _, err := r.routed.Create(ctx, to, value); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
				_ = keys.Stop()
				return err
			}
			n++
		}
		return nil
	}
	if err := copyAll(r.dedupe, legacyClaimPrefix()+">", func(k string, e jetstream.KeyValueEntry) (string, []byte, bool) {
		var f firstAlert
		rest := strings.TrimPrefix(k, legacyClaimPrefix())
		dot := strings.LastIndexByte(rest, '.')
		if json.Unmarshal(e.Value(), &f) != nil || dot < 0 {
			return "", nil, false
		}
		f.Claimed = e.Created().Unix()
		return claimKey(rest[:dot], rest[dot+1:]), f.marshal(), true
	}); err != nil {
		return n, fmt.Errorf("alerts: migrate the dedupe claims of %s: %w", records.BucketDedupe, err)
	}
	if err := copyAll(r.sightings, legacyIndicatorKey(">"), func(k string, e jetstream.KeyValueEntry) (string, []byte, bool) {
		return indicatorKey(strings.TrimPrefix(k, legacyIndicatorKey(""))), e.Value(), json.Valid(e.Value())
	}); err != nil {
		return n, fmt.Errorf("alerts: migrate the indicator index of %s: %w", records.BucketSightings, err)
	}
	if _, err := r.routed.Create(ctx, migratedKey, []byte(`{"copied":`+fmt.Sprint(n)+`}`)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return n, fmt.Errorf("alerts: mark the migration done: %w", err)
	}
	return n, nil
}

// legacyRetry is how long copyLegacy waits after a failed copy.
const legacyRetry = 10 * time.Second

// copyLegacy runs migrateLegacy, each attempt bounded by
// legacyCopyTimeout, until it succeeds or ctx ends: routing does not wait
// for it (a re-publish of a pattern set claimed before the upgrade and
// handled before the copy is routed again).
func (r *Router) copyLegacy(ctx context.Context) {
	for {
		actx, cancel := context.WithTimeout(ctx, legacyCopyTimeout)
		n, err := r.migrateLegacy(actx)
		cancel()
		if err == nil {
			if n > 0 {
				r.log.Info("copied the legacy dedupe claims and indicator index into ROUTED", zap.Int("records", n))
			}
			return
		}
		r.log.Warn("the legacy dedupe claims and indicator index are not copied yet; trying again", zap.Error(err), zap.Duration("in", legacyRetry))
		select {
		case <-ctx.Done():
			return
		case <-time.After(legacyRetry):
		}
	}
}
