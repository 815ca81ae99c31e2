package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// casAttempts is how often updateJSON tries before it gives up on a key
// other writers keep changing.
const casAttempts = 20

// updateJSON changes the JSON value of key in kv with compare-and-set,
// trying again when another writer came first: it reads the value (or
// starts from fresh() when the key does not exist), lets change modify it,
// and writes it back only if change reports a change. With createFirst the
// first attempt creates the key without reading it, which saves the read
// when the key is nearly always new. It returns the value written (or
// found unchanged) and whether it was written.
func updateJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string, createFirst bool, fresh func() T, change func(*T) bool) (T, bool, error) {
	for attempt := range casAttempts {
		v := fresh()
		var rev uint64
		if attempt > 0 || !createFirst {
			e, err := kv.Get(ctx, key)
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
			case err != nil:
				return v, false, err
			default:
				rev = e.Revision()
				if err := json.Unmarshal(e.Value(), &v); err != nil {
					return v, false, fmt.Errorf("%s %s is corrupt: %w", kv.Bucket(), key, err)
				}
			}
		}
		if !change(&v) {
			return v, false, nil
		}
		data, err := json.Marshal(v)
		if err != nil {
			return v, false, err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, data)
		} else {
			_, err = kv.Update(ctx, key, data, rev)
		}
		if err == nil {
			return v, true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongRevision(err) {
			return v, false, err
		}
	}
	var zero T
	return zero, false, fmt.Errorf("%s %s: too much contention", kv.Bucket(), key)
}

// isWrongRevision reports whether err is a compare-and-set that lost:
// another writer came first. The server answers with 10071 ("wrong last
// sequence: N") or, under load and for a write that expected the key
// absent, 10164 ("wrong last sequence").
func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jsErrWrongLastSequenceConstant)
}

// jsErrWrongLastSequenceConstant is nats-server's JSStreamWrongLastSequenceConstantErr.
const jsErrWrongLastSequenceConstant jetstream.ErrorCode = 10164
