package kvread

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Leader reads the latest record of key in bucket, and its revision, from
// the stream leader (the STREAM.MSG.GET API), through js's API prefix or
// domain. A KeyValue's own Get uses direct get, which any replica may
// answer, and a follower can lag behind a write that was just
// acknowledged: a read-modify-write on it keeps losing its compare-and-set,
// and a decision made on it may refuse what it should allow. A key never
// written, deleted or purged gives ok false. A ctx without deadline is
// bounded by js's default timeout, else 10 s.
func Leader(ctx context.Context, js jetstream.JetStream, bucket, key string) (data []byte, rev uint64, ok bool, err error) {
	if _, set := ctx.Deadline(); !set {
		timeout := js.Options().DefaultTimeout
		if timeout <= 0 {
			timeout = defaultTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	e, err := leaderGet(ctx, js, bucket, struct {
		LastBySubject string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	if err != nil {
		return nil, 0, false, fmt.Errorf("read %s %q: %w", bucket, key, err)
	}
	if e == nil || e.Deleted {
		return nil, 0, false, nil
	}
	return e.Value, e.Revision, true, nil
}

// leaderGet asks bucket's stream leader for one record (req is a
// STREAM.MSG.GET request); nil when there is none.
func leaderGet(ctx context.Context, js jetstream.JetStream, bucket string, req any) (*Entry, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	msg, err := js.Conn().RequestWithContext(ctx, APIPrefix(js.Options())+"STREAM.MSG.GET.KV_"+bucket, body)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Message *struct {
			Subject string `json:"subject"`
			Seq     uint64 `json:"seq"`
			Hdrs    []byte `json:"hdrs"`
			Data    []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("the server's answer does not decode: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, nil
	case resp.Error != nil:
		return nil, resp.Error
	case resp.Message == nil:
		return nil, fmt.Errorf("the server answered without a record")
	}
	keys := "$KV." + bucket + "."
	e := &Entry{Key: resp.Message.Subject[min(len(keys), len(resp.Message.Subject)):], Revision: resp.Message.Seq, Value: resp.Message.Data}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return nil, fmt.Errorf("record %d's headers do not decode: %w", e.Revision, err)
		}
		op := h.Get("KV-Operation")
		e.Deleted = op == "DEL" || op == "PURGE"
	}
	return e, nil
}
