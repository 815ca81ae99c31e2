package mutualaid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/tocsin-project/tocsin/internal/kvread"
)

// kvSubject is the stream subject of an AID bucket key.
func (s *Service) kvSubject(key string) string {
	return "$KV." + s.aidBucket() + "." + key
}

// errConflict says a compare-and-set lost: someone wrote the key since it
// was read. The caller reads again and retries.
var errConflict = errors.New("aid record changed since it was read")

// errAtomicDisabled says the AID stream refused an atomic batch because
// AllowAtomicPublish is off (a provisioning run turned it off); transient.
var errAtomicDisabled = errors.New("the AID bucket's stream does not allow atomic batches right now; EnableAtomicPublish after provisioning")

// maxAttempts bounds a compare-and-set retry loop.
const maxAttempts = 64

// latest reads key from the AID stream's leader (kvread.Leader) with its
// revision; absent gives nil data and revision 0. A decision made on a
// replica that lags a just-acknowledged write would refuse what it should
// allow.
func (s *Service) latest(ctx context.Context, key string) ([]byte, uint64, error) {
	data, rev, ok, err := kvread.Leader(ctx, s.d.JS, s.aidBucket(), key)
	if err != nil || !ok {
		return nil, 0, err
	}
	return data, rev, nil
}

// load reads and decodes a record from the leader; nil when absent.
func load[T any](ctx context.Context, s *Service, key string) (*T, uint64, error) {
	data, rev, err := s.latest(ctx, key)
	if err != nil || data == nil {
		return nil, 0, err
	}
	v, err := decodeJSON[T](key, data)
	return v, rev, err
}

// write is one compare-and-set of a commit: key gets value if its last
// revision is still rev (0: the key must not exist).
type write struct {
	key   string
	value any
	rev   uint64
}

// commit applies writes all or none. One write is a publish with the
// expected last subject sequence; more are an atomic batch (Nats-Batch-Id,
// Nats-Batch-Sequence, Nats-Batch-Commit on the last) in which every write
// carries its own expected sequence, so the stream leader applies the lot
// only if no key changed since it was read. A lost compare-and-set is
// errConflict.
func (s *Service) commit(ctx context.Context, writes ...write) error {
	msgs := make([]*nats.Msg, len(writes))
	for i, w := range writes {
		data, err := json.Marshal(w.value)
		if err != nil {
			return fmt.Errorf("encode aid record %s: %w", w.key, err)
		}
		msgs[i] = &nats.Msg{Subject: s.kvSubject(w.key), Data: data, Header: nats.Header{}}
		msgs[i].Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(w.rev, 10))
	}
	if len(msgs) == 1 {
		_, err := s.d.JS.PublishMsg(ctx, msgs[0])
		return casError(err)
	}
	batch := nuid.Next()
	for i, m := range msgs {
		m.Header.Set("Nats-Batch-Id", batch)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		last := i == len(msgs)-1
		if last {
			m.Header.Set("Nats-Batch-Commit", "1")
			if hook := s.beforeCommit.Load(); hook != nil {
				if err := (*hook)(); err != nil {
					return err
				}
			}
		}
		reply, err := s.d.JS.Conn().RequestMsgWithContext(ctx, m)
		if err != nil {
			return fmt.Errorf("atomic batch %s message %d: %w", batch, i+1, err)
		}
		if !last && len(reply.Data) == 0 {
			continue // staged
		}
		var ack struct {
			Error *jetstream.APIError `json:"error"`
			Seq   uint64              `json:"seq"`
		}
		if err := json.Unmarshal(reply.Data, &ack); err != nil {
			return fmt.Errorf("atomic batch %s: the answer does not decode: %w", batch, err)
		}
		if ack.Error != nil {
			err := casError(ack.Error)
			if errors.Is(err, errAtomicDisabled) {
				// Provisioning turned it off: turn it on again; the
				// message is retried.
				if _, eerr := enableAtomicPublish(ctx, s.d.JS, s.aidBucket()); eerr != nil {
					return fmt.Errorf("%w; %v", err, eerr)
				}
			}
			return err
		}
	}
	return nil
}

// JetStream error codes commit tells apart.
const (
	codeWrongLastSeq      = 10071 // expected last subject sequence does not match
	codeWrongLastSeqConst = 10164 // the same on replicated streams and in batches
	codeAtomicDisabled    = 10174 // the stream does not allow atomic batches
)

// casError maps a publish error: a lost compare-and-set is errConflict.
func casError(err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode {
	case codeWrongLastSeq, codeWrongLastSeqConst:
		return fmt.Errorf("%w: %v", errConflict, apiErr)
	case codeAtomicDisabled:
		return fmt.Errorf("%w: %v", errAtomicDisabled, apiErr)
	}
	return err
}
