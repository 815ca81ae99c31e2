package members

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tocsin-project/tocsin/internal/kvread"
	"github.com/tocsin-project/tocsin/records"
)

// The MEMBERS bucket's stream and the subject prefix of its keys.
const (
	membersStream = "KV_" + records.BucketMembers
	membersPrefix = "$KV." + records.BucketMembers + "."
)

// defaultReadTimeout bounds a read whose context has no deadline, when the
// JetStream context sets no default timeout of its own.
const defaultReadTimeout = 5 * time.Second

// readLatest reads the latest record of key id and its revision from the
// stream leader (the STREAM.MSG.GET API). The KV's own Get uses direct
// get, which any replica may answer, and a follower can lag behind a write
// that was just acknowledged: Get would not see a member just added, and
// Update would keep losing its compare-and-set on a stale revision. A key
// never written, deleted or purged gives ok false.
func (r *Registry) readLatest(ctx context.Context, id string) (data []byte, rev uint64, ok bool, err error) {
	opts := r.js.Options()
	if _, set := ctx.Deadline(); !set {
		timeout := opts.DefaultTimeout
		if timeout <= 0 {
			timeout = defaultReadTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{membersPrefix + id})
	if err != nil {
		return nil, 0, false, err
	}
	msg, err := r.js.Conn().RequestWithContext(ctx, kvread.APIPrefix(opts)+"STREAM.MSG.GET."+membersStream, req)
	if err != nil {
		return nil, 0, false, fmt.Errorf("read member %q: %w", id, err)
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
		return nil, 0, false, fmt.Errorf("read member %q: the server's answer does not decode: %w", id, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, 0, false, nil
	case resp.Error != nil:
		return nil, 0, false, fmt.Errorf("read member %q: %w", id, resp.Error)
	case resp.Message == nil:
		return nil, 0, false, fmt.Errorf("read member %q: the server answered without a record", id)
	}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return nil, 0, false, fmt.Errorf("read member %q: the record's headers do not decode: %w", id, err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return nil, 0, false, nil
		}
	}
	return resp.Message.Data, resp.Message.Seq, true, nil
}
