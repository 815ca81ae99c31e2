package kvread

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
)

// multiLastMax is the most subjects one multi-last direct get may answer
// (nats-server's limit on a batch's responses).
const multiLastMax = 1024

// LastOfKeys returns the latest record of each of keys in bucket that
// exists, deletes and purges left out, by multi-last batch direct gets of
// up to 1,024 literal keys each: the server looks each key up in its
// subject index, so the cost follows len(keys), not the bucket's size (a
// wildcard such as "*.m1" makes the server walk every key of the bucket).
// The order of the result is the bucket's, not keys'.
func LastOfKeys(ctx context.Context, nc *nats.Conn, apiPrefix, bucket string, keys []string) ([]Entry, error) {
	var batches [][]string
	for start := 0; start < len(keys); start += multiLastMax {
		batches = append(batches, keys[start:min(start+multiLastMax, len(keys))])
	}
	return multiLast(ctx, nc, apiPrefix, bucket, batches)
}

// multiLast sends one multi-last batch direct get for each batch of key
// patterns and returns the records answered, deletes and purges left out.
func multiLast(ctx context.Context, nc *nats.Conn, apiPrefix, bucket string, batches [][]string) ([]Entry, error) {
	if _, set := ctx.Deadline(); !set {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	prefix := "$KV." + bucket + "."
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("read bucket %s: subscribe %s: %w", bucket, inbox, err)
	}
	defer sub.Unsubscribe()
	var out []Entry
	for _, batch := range batches {
		subjects := make([]string, len(batch))
		for i, k := range batch {
			subjects[i] = prefix + k
		}
		req, _ := json.Marshal(struct {
			MultiLast []string `json:"multi_last"`
		}{subjects})
		if err := nc.PublishRequest(apiPrefix+"DIRECT.GET.KV_"+bucket, inbox, req); err != nil {
			return nil, fmt.Errorf("read bucket %s: %w", bucket, err)
		}
		if _, _, err := readPage(ctx, sub, prefix, func(e Entry) error {
			if !e.Deleted {
				out = append(out, e)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read bucket %s: %w", bucket, err)
		}
	}
	return out, nil
}
