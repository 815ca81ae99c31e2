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
	opts := js.Options()
	if _, set := ctx.Deadline(); !set {
		timeout := opts.DefaultTimeout
		if timeout <= 0 {
			timeout = defaultTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	if err != nil {
		return nil, 0, false, err
	}
	msg, err := js.Conn().RequestWithContext(ctx, APIPrefix(opts)+"STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return nil, 0, false, fmt.Errorf("read %s %q: %w", bucket, key, err)
	}
	var resp struct {
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, false, fmt.Errorf("read %s %q: the server's answer does not decode: %w", bucket, key, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, 0, false, nil
	case resp.Error != nil:
		return nil, 0, false, fmt.Errorf("read %s %q: %w", bucket, key, resp.Error)
	case resp.Message == nil:
		return nil, 0, false, fmt.Errorf("read %s %q: the server answered without a record", bucket, key)
	}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return nil, 0, false, fmt.Errorf("read %s %q: the record's headers do not decode: %w", bucket, key, err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return nil, 0, false, nil
		}
	}
	return resp.Message.Data, resp.Message.Seq, true, nil
}
