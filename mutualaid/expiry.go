package mutualaid

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// expiryResend is how long a node waits before publishing a request's
// expiry again when the request is still due (JetStream drops the copies
// within its duplicate window; past it the service finds the request
// already expired).
const expiryResend = 30 * time.Second

// expireLoop fires expiries: every node looks, every ExpiryCheck, for
// requests past their expires_at in its copy of the AID bucket and
// publishes a signed expiry decision on its own aid ingest subject (in the
// AID bucket's region, whose service applies it: inAid), with a
// message id derived from the request. Whichever node publishes first is
// kept; the others' copies are duplicates. The timer is the bucket's state,
// not a node's memory, so it survives the loss of any node.
func (s *Service) expireLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.ExpiryCheck)
	defer t.Stop()
	sent := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due := map[string]bool{}
			for _, id := range s.dir.due(now) {
				due[id] = true
				if at, ok := sent[id]; ok && now.Sub(at) < expiryResend {
					continue
				}
				if err := s.sendExpiry(ctx, id); err != nil {
					s.log.Debug("expiry not sent; will try again", zap.String("request", id), zap.Error(err))
					continue
				}
				sent[id] = now
			}
			for id := range sent {
				if !due[id] {
					delete(sent, id)
				}
			}
		}
	}
}

// sendExpiry publishes the expiry decision of a request.
func (s *Service) sendExpiry(ctx context.Context, reqID string) error {
	id := expiryID(reqID)
	env, err := s.d.Signer.Seal(tocsinv1.Kind_KIND_AID_DECISION,
		&tocsinv1.AidDecision{RequestId: reqID, Action: tocsinv1.AidAction_AID_ACTION_EXPIRE}, envelope.WithID(id))
	if err != nil {
		return fmt.Errorf("seal expiry of %s: %w", reqID, err)
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = s.d.JS.Publish(pctx, s.inAid(subjects.Ingest(subjects.KindAid, s.d.Signer.Sender())), data, jetstream.WithMsgID(id))
	return err
}

// expiryID is the message id of a request's expiry, the same on every
// node: "expire-<request id>", or a digest of the id when that is too long.
func expiryID(reqID string) string {
	if id := "expire-" + reqID; len(id) <= envelope.MaxIDLen {
		return id
	}
	sum := sha256.Sum256([]byte(reqID))
	return "expire-" + hex.EncodeToString(sum[:16])
}
