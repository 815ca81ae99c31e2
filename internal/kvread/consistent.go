package kvread

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// consistentTries is how many batch reads LatestConsistent makes before it
// reads from the stream leader one record at a time.
const consistentTries = 3

// LatestConsistent is Latest of every key of bucket, checked against the
// stream leader. A batch direct get may be answered by a replica a moment
// behind a write just acknowledged, or, in a supercluster, by another
// region's mirror of the bucket (nats-server gives a mirror mirror_direct,
// and answers a request in the asker's region first), which holds the
// records under its own subjects and so answers "nothing". When the
// records read stop short of the last sequence the leader reports, the
// bucket is read again, and after consistentTries from the leader
// (STREAM.MSG.GET, one record a request: slower, and right).
func LatestConsistent(ctx context.Context, js jetstream.JetStream, bucket string) ([]Entry, error) {
	st, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("read bucket %s: its stream's state from the leader: %w", bucket, err)
	}
	state := st.CachedInfo().State
	prefix := APIPrefix(js.Options())
	for try := range consistentTries {
		if try > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(try) * 100 * time.Millisecond):
			}
		}
		entries, last, err := latestOf(func(fn func(Entry) error) error { return Scan(ctx, js.Conn(), prefix, bucket, ">", fn) })
		if err != nil {
			return nil, err
		}
		if state.Msgs == 0 || last >= state.LastSeq {
			return entries, nil
		}
	}
	entries, _, err := latestOf(func(fn func(Entry) error) error { return ScanLeader(ctx, js, bucket, fn) })
	return entries, err
}

// latestOf keeps, of the records scan gives in stream order, every key's
// latest, deletes and purges left out, and the highest sequence seen.
func latestOf(scan func(func(Entry) error) error) ([]Entry, uint64, error) {
	var order []string
	var seen uint64
	last := map[string]Entry{}
	err := scan(func(e Entry) error {
		if _, ok := last[e.Key]; !ok {
			order = append(order, e.Key)
		}
		last[e.Key] = e
		seen = max(seen, e.Revision)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	out := make([]Entry, 0, len(order))
	for _, k := range order {
		if e := last[k]; !e.Deleted {
			out = append(out, e)
		}
	}
	return out, seen, nil
}

// ScanLeader calls fn for every record of bucket, history included, in
// stream order, read from the stream leader one record a request (the
// STREAM.MSG.GET API with next_by_subj), stopping at fn's first error.
func ScanLeader(ctx context.Context, js jetstream.JetStream, bucket string, fn func(Entry) error) error {
	if _, set := ctx.Deadline(); !set {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	for seq := uint64(1); ; {
		e, err := leaderGet(ctx, js, bucket, struct {
			Seq     uint64 `json:"seq"`
			NextFor string `json:"next_by_subj"`
		}{seq, "$KV." + bucket + ".>"})
		if err != nil {
			return fmt.Errorf("read bucket %s from its leader: %w", bucket, err)
		}
		if e == nil {
			return nil
		}
		if err := fn(*e); err != nil {
			return err
		}
		seq = e.Revision + 1
	}
}
