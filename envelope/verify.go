package envelope

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ErrUnknownMember is wrapped by a Registry's error for an id it does not hold.
var ErrUnknownMember = errors.New("no such member")

// Registry looks up member records, with their signing keys.
type Registry interface {
	// Member returns the record of member id. When there is none the error
	// wraps ErrUnknownMember; any other error is a failure to look, and the
	// message being verified should be retried rather than refused.
	Member(ctx context.Context, id string) (*tocsinv1.Member, error)
}

// VerifyOptions configures a Verifier.
type VerifyOptions struct {
	// Relays are the member ids of Tocsin services that may sign for another
	// member (a TAXII gateway on a node). An envelope that carries a via and
	// whose key_id is not among its sender's keys is checked against the keys
	// of each relay holding ROLE_SERVICE. Empty: no relayed envelope verifies.
	Relays []string
}

// Verifier checks envelope signatures against the member registry. It is
// safe for concurrent use when its Registry is.
type Verifier struct {
	reg    Registry
	relays []string
	keys   keyCache
}

// NewVerifier returns a Verifier that looks keys up in reg.
func NewVerifier(reg Registry, opts VerifyOptions) *Verifier {
	return &Verifier{reg: reg, relays: slices.Clone(opts.Relays)}
}

// Verify checks that env is well formed (Validate) and was signed by its
// sender, and returns the sender's record. Failures are *codes.Error:
// UNKNOWN_SENDER, SENDER_REVOKED (whatever the envelope's time: the time is
// the sender's claim, and a revoked member's keys may be in a thief's hands),
// UNKNOWN_KEY, BAD_SIGNATURE, then KEY_NOT_VALID when the key's validity
// does not cover the envelope's time (a backlog signed before a rotation
// still verifies). Any other error is the registry's and worth a retry.
//
// Verify does not check the time against a clock: that is CheckSkew's job,
// once, at ingest, so an agent catching up hours later still accepts what
// was valid when it was sent.
func (v *Verifier) Verify(ctx context.Context, env *tocsinv1.Envelope) (*tocsinv1.Member, error) {
	if err := Validate(env); err != nil {
		return nil, err
	}
	sender, err := v.member(ctx, env.Sender)
	if err != nil {
		return nil, err
	}
	if sender == nil {
		return nil, codes.Errorf(unknownSender, "envelope %s: sender %s is not a member; ask the Tocsin administrators to register it", env.Id, env.Sender)
	}
	if revoked(sender) {
		return nil, codes.Errorf(senderRevoked, "envelope %s: member %s was revoked at %s; its messages are refused",
			env.Id, sender.Id, sender.RevokedAt.AsTime().Format(time.RFC3339))
	}
	keys, err := v.keysFor(ctx, env, sender)
	if err != nil {
		return nil, err
	}
	if err := v.checkSignature(env); err != nil {
		return nil, err
	}
	if err := checkValidity(env, keys); err != nil {
		return nil, err
	}
	return sender, nil
}

// Open verifies env and decodes its payload into into, which must be the
// message type of env's kind (see PayloadFor). A payload that does not decode,
// or a kind other than into's, is MALFORMED.
func (v *Verifier) Open(ctx context.Context, env *tocsinv1.Envelope, into proto.Message) (*tocsinv1.Member, error) {
	sender, err := v.Verify(ctx, env)
	if err != nil {
		return nil, err
	}
	if err := checkPayloadType(env.Kind, into); err != nil {
		return nil, fmt.Errorf("envelope %s: %w", env.Id, err)
	}
	if err := proto.Unmarshal(env.Payload, into); err != nil {
		return nil, codes.Errorf(malformed, "envelope %s: the payload is not a %s: %w", env.Id, into.ProtoReflect().Descriptor().Name(), err)
	}
	return sender, nil
}

// member returns the record of id, or nil when the registry has none.
func (v *Verifier) member(ctx context.Context, id string) (*tocsinv1.Member, error) {
	m, err := v.reg.Member(ctx, id)
	if errors.Is(err, ErrUnknownMember) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up member %s: %w", id, err)
	}
	if m != nil && m.Id != id {
		return nil, fmt.Errorf("looking up member %s: the registry returned %s", id, m.Id)
	}
	return m, nil
}

// keysFor returns the entries for env's key id in its sender's record, or,
// for a relayed envelope, in a relay's record.
func (v *Verifier) keysFor(ctx context.Context, env *tocsinv1.Envelope, sender *tocsinv1.Member) ([]*tocsinv1.SigningKey, error) {
	if keys := keysWithID(sender, env.KeyId); len(keys) > 0 {
		return keys, nil
	}
	if env.Via != "" {
		for _, id := range v.relays {
			relay, err := v.member(ctx, id)
			if err != nil {
				return nil, err
			}
			if relay == nil || !slices.Contains(relay.Roles, tocsinv1.Role_ROLE_SERVICE) {
				continue
			}
			keys := keysWithID(relay, env.KeyId)
			if len(keys) == 0 {
				continue
			}
			if revoked(relay) {
				return nil, codes.Errorf(senderRevoked, "envelope %s: relay %s that signed it was revoked", env.Id, relay.Id)
			}
			return keys, nil
		}
	}
	return nil, codes.Errorf(unknownKey, "envelope %s: key %s is not one of %s's signing keys; sign with a registered key or register this one",
		env.Id, env.KeyId, env.Sender)
}

// keysWithID returns m's key entries whose public key is keyID.
func keysWithID(m *tocsinv1.Member, keyID string) []*tocsinv1.SigningKey {
	var out []*tocsinv1.SigningKey
	for _, k := range m.GetKeys() {
		if k.GetPublicKey() == keyID {
			out = append(out, k)
		}
	}
	return out
}

// revoked reports whether m has been revoked.
func revoked(m *tocsinv1.Member) bool {
	return m.GetRevokedAt() != nil
}

// checkSignature verifies env's signature against its key id.
func (v *Verifier) checkSignature(env *tocsinv1.Envelope) error {
	key, ok := v.keys.lookup(env.KeyId)
	if !ok {
		return codes.Errorf(malformed, "envelope %s: key_id %s does not decode as an NKey user key", env.Id, env.KeyId)
	}
	digest := Digest(env)
	if !verifyExpanded(key, digest[:], env.Signature) {
		return codes.Errorf(badSignature, "envelope %s: the signature does not verify with key %s; the envelope was altered after signing or signed with another key",
			env.Id, env.KeyId)
	}
	return nil
}

// checkValidity returns KEY_NOT_VALID unless one of keys is valid at env's
// time: not before not_before (when set) and before not_after (when set).
func checkValidity(env *tocsinv1.Envelope, keys []*tocsinv1.SigningKey) error {
	t := env.Time.AsTime()
	for _, k := range keys {
		if validAt(k, t) {
			return nil
		}
	}
	k := keys[0]
	return codes.Errorf(keyNotValid, "envelope %s: key %s is valid from %s to %s, not at the envelope's time %s; sign with the member's current key",
		env.Id, env.KeyId, bound(k.NotBefore, "the beginning"), bound(k.NotAfter, "now"), t.Format(time.RFC3339Nano))
}

// validAt reports whether k is valid at t.
func validAt(k *tocsinv1.SigningKey, t time.Time) bool {
	if nb := k.GetNotBefore(); nb != nil && t.Before(nb.AsTime()) {
		return false
	}
	if na := k.GetNotAfter(); na != nil && !t.Before(na.AsTime()) {
		return false
	}
	return true
}

// bound formats a validity bound, or unset when it is absent.
func bound(ts *timestamppb.Timestamp, unset string) string {
	if ts == nil {
		return unset
	}
	return ts.AsTime().Format(time.RFC3339Nano)
}
