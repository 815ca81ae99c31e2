// Package kvread reads a JetStream KeyValue bucket without a consumer, by
// batch direct get: what a connection may do whose rights stop at direct
// gets (an admin's: a consumer's deliver subject cannot be pinned by an
// allow list, so admins may not create one).
package kvread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// APIPrefix returns the JetStream API subject prefix opts stand for.
func APIPrefix(opts jetstream.JetStreamOptions) string {
	switch {
	case opts.Domain != "":
		return "$JS." + opts.Domain + ".API."
	case opts.APIPrefix != "":
		return strings.TrimSuffix(opts.APIPrefix, ".") + "."
	default:
		return jetstream.DefaultAPIPrefix
	}
}

// page is how many records one batch request asks for.
const page = 256

// defaultTimeout bounds a scan whose context has no deadline.
const defaultTimeout = 10 * time.Second

// Entry is one stored record of a bucket, as the stream holds it.
type Entry struct {
	// Key is the record's key (the subject without "$KV.<bucket>.").
	Key string
	// Revision is the record's stream sequence.
	Revision uint64
	// Deleted is true for a delete or purge marker.
	Deleted bool
	// Value is the record's value.
	Value []byte
}

// Latest returns, for every key of bucket under filter (a key pattern, ">"
// for all), its latest record, deletes and purges left out, in the order
// of their revisions. It pages through the bucket's stream by batch direct
// gets on nc; apiPrefix is the JetStream API prefix ("$JS.API." unless a
// domain or import says otherwise). Any replica may answer a direct get,
// so a write acknowledged a moment ago may be missing: read a single key
// from the stream leader when that matters.
func Latest(ctx context.Context, nc *nats.Conn, apiPrefix, bucket, filter string) ([]Entry, error) {
	entries, _, err := latestOf(func(fn func(Entry) error) error { return Scan(ctx, nc, apiPrefix, bucket, filter, fn) })
	return entries, err
}

// Scan calls fn for every record of bucket under filter, history included,
// in stream order, stopping at fn's first error.
func Scan(ctx context.Context, nc *nats.Conn, apiPrefix, bucket, filter string, fn func(Entry) error) error {
	if _, set := ctx.Deadline(); !set {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	prefix := "$KV." + bucket + "."
	subject := apiPrefix + "DIRECT.GET.KV_" + bucket
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("read bucket %s: subscribe %s: %w", bucket, inbox, err)
	}
	defer sub.Unsubscribe()
	for seq := uint64(1); ; {
		req, _ := json.Marshal(struct {
			Seq     uint64 `json:"seq"`
			Batch   int    `json:"batch"`
			NextFor string `json:"next_by_subj"`
		}{seq, page, prefix + filter})
		if err := nc.PublishRequest(subject, inbox, req); err != nil {
			return fmt.Errorf("read bucket %s: %w", bucket, err)
		}
		more, next, err := readPage(ctx, sub, prefix, fn)
		if err != nil {
			return fmt.Errorf("read bucket %s: %w", bucket, err)
		}
		if !more {
			return nil
		}
		seq = next
	}
}

// readPage reads one batch's answers up to its end-of-batch marker. It
// reports whether records remain and the sequence to ask from next.
func readPage(ctx context.Context, sub *nats.Subscription, prefix string, fn func(Entry) error) (more bool, next uint64, err error) {
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return false, 0, fmt.Errorf("no answer (%w); does this connection have direct get on the bucket, and is JetStream up?", err)
			}
			return false, 0, err
		}
		switch status := msg.Header.Get("Status"); status {
		case "":
		case "404":
			return false, 0, nil // nothing (more) under the filter
		case "204":
			pending, _ := strconv.ParseUint(msg.Header.Get("Nats-Num-Pending"), 10, 64)
			lastSeq, _ := strconv.ParseUint(msg.Header.Get("Nats-Last-Sequence"), 10, 64)
			return pending > 0 && next > 0, max(next, lastSeq+1), nil
		default:
			return false, 0, fmt.Errorf("status %s %s", status, msg.Header.Get("Description"))
		}
		seq, err := strconv.ParseUint(msg.Header.Get("Nats-Sequence"), 10, 64)
		if err != nil {
			return false, 0, fmt.Errorf("a record without a sequence (%q)", msg.Header.Get("Nats-Sequence"))
		}
		next = seq + 1
		op := msg.Header.Get("KV-Operation")
		e := Entry{
			Key:      strings.TrimPrefix(msg.Header.Get("Nats-Subject"), prefix),
			Revision: seq,
			Deleted:  op == "DEL" || op == "PURGE",
			Value:    msg.Data,
		}
		if err := fn(e); err != nil {
			return false, 0, err
		}
	}
}

// LastOf returns the latest record of every key of bucket matching
// pattern (a key with wildcards, "*.m1"), deletes and purges left out, by
// one multi-last batch direct get: no consumer, and one round trip. A
// pattern matching more than 1,024 keys is refused by the server.
func LastOf(ctx context.Context, nc *nats.Conn, apiPrefix, bucket, pattern string) ([]Entry, error) {
	return multiLast(ctx, nc, apiPrefix, bucket, [][]string{{pattern}})
}
