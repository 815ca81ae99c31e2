package envelope

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nkeys"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Signer seals and signs envelopes as one member with one NKey user key. It
// is safe for concurrent use.
type Signer struct {
	sender string
	keyID  string
	kp     nkeys.KeyPair
	// priv is the expanded ed25519 key when kp exposes it; signing with it
	// skips the seed expansion nkeys repeats on every Sign.
	priv ed25519.PrivateKey
}

// NewSigner returns a Signer for member sender with the user key pair kp.
// The key id of its envelopes is kp's public key ("U...").
func NewSigner(sender string, kp nkeys.KeyPair) (*Signer, error) {
	if !ValidMemberID(sender) {
		return nil, fmt.Errorf("signer: sender %q is not a member id (lowercase letters, digits and dashes, starting with a letter)", sender)
	}
	if kp == nil {
		return nil, fmt.Errorf("signer for %s: no key pair", sender)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("signer for %s: reading the public key: %w", sender, err)
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("signer for %s: key %s is not an NKey user key; use the seed of the member's .creds file (\"SU...\")", sender, pub)
	}
	s := &Signer{sender: sender, keyID: pub, kp: kp}
	if enc, err := kp.PrivateKey(); err == nil {
		if raw, err := nkeys.Decode(nkeys.PrefixBytePrivate, enc); err == nil && len(raw) == ed25519.PrivateKeySize {
			s.priv = ed25519.PrivateKey(raw)
		}
		clear(enc)
	}
	if _, err := s.sign([]byte(Domain)); err != nil {
		return nil, fmt.Errorf("signer for %s: key %s cannot sign (a public key only?): %w", sender, pub, err)
	}
	return s, nil
}

// sign signs msg with the Signer's key.
func (s *Signer) sign(msg []byte) ([]byte, error) {
	if s.priv != nil {
		return ed25519.Sign(s.priv, msg), nil
	}
	return s.kp.Sign(msg)
}

// SignerFromSeed returns a Signer for member sender from an encoded NKey
// user seed ("SU...").
func SignerFromSeed(sender string, seed []byte) (*Signer, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("signer for %s: the seed does not decode (want an NKey user seed \"SU...\"): %w", sender, err)
	}
	return NewSigner(sender, kp)
}

// SignerFromCredsFile returns a Signer for member sender from the NKey seed
// of a NATS .creds file (a user JWT followed by its seed, the file the nats
// CLI reads).
func SignerFromCredsFile(sender, path string) (*Signer, error) {
	contents, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signer for %s: reading the credentials: %w", sender, err)
	}
	defer clear(contents)
	kp, err := nkeys.ParseDecoratedUserNKey(contents)
	if err != nil {
		return nil, fmt.Errorf("signer for %s: %s holds no user NKey seed: %w", sender, path, err)
	}
	return NewSigner(sender, kp)
}

// Sender returns the member id the Signer signs as.
func (s *Signer) Sender() string { return s.sender }

// KeyID returns the public key ("U...") its envelopes carry as key_id; it is
// the key to register in the member's record.
func (s *Signer) KeyID() string { return s.keyID }

// SealOption changes how Seal builds an envelope.
type SealOption func(*tocsinv1.Envelope)

// WithID sets the envelope's id instead of a fresh NewID (for a retry that
// must reuse the id JetStream deduplicates by).
func WithID(id string) SealOption {
	return func(env *tocsinv1.Envelope) { env.Id = id }
}

// WithTime sets the envelope's time instead of now.
func WithTime(t time.Time) SealOption {
	return func(env *tocsinv1.Envelope) { env.Time = timestamppb.New(t) }
}

// WithVia records how the message entered Tocsin ("taxii") when it did not
// come from the sender's own agent or CLI.
func WithVia(via string) SealOption {
	return func(env *tocsinv1.Envelope) { env.Via = via }
}

// OnBehalfOf makes a relay (a Tocsin node) seal a message for member
// sender; it requires WithVia. Verifiers accept the relay's key for it only
// when the relay is one of VerifyOptions.Relays.
func OnBehalfOf(sender string) SealOption {
	return func(env *tocsinv1.Envelope) { env.Sender = sender }
}

// Seal wraps payload in a new envelope of the given kind and signs it. The
// envelope gets a fresh id, the current time and the Signer's sender unless
// options say otherwise. A payload whose type is not kind's is refused.
func (s *Signer) Seal(kind tocsinv1.Kind, payload proto.Message, opts ...SealOption) (*tocsinv1.Envelope, error) {
	if err := checkPayloadType(kind, payload); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("seal %v: encoding the payload: %w", kind, err)
	}
	env := &tocsinv1.Envelope{Kind: kind, Sender: s.sender, Payload: data}
	for _, opt := range opts {
		opt(env)
	}
	if env.Id == "" {
		env.Id = NewID()
	}
	if env.Time == nil {
		env.Time = timestamppb.Now()
	}
	if err := s.Sign(env); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return env, nil
}

// Sign signs a prepared envelope in place: it sets key_id to the Signer's
// key, the sender to the Signer's when empty, and the signature. Every other
// field must already be valid (see Validate). An envelope for another sender
// is signed only when it carries a via (a relay signing for a member).
func (s *Signer) Sign(env *tocsinv1.Envelope) error {
	if env == nil {
		return fmt.Errorf("sign: no envelope")
	}
	if env.Sender == "" {
		env.Sender = s.sender
	}
	if env.Sender != s.sender && env.Via == "" {
		return fmt.Errorf("sign: %s may not sign as %s; only a relay may, and it must set via", s.sender, env.Sender)
	}
	env.KeyId = s.keyID
	if err := validateUnsigned(env); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	digest := Digest(env)
	sig, err := s.sign(digest[:])
	if err != nil {
		return fmt.Errorf("sign %s: %w", env.Id, err)
	}
	env.Signature = sig
	return nil
}

// NewMemberKey makes a fresh user key m's only signing key (valid from an
// hour ago, so that a clock a little behind still accepts it) and returns a Signer with it and the key pair. It is how tests and
// benchmarks give a cast its keys; a real member's key comes from its
// .creds file.
func NewMemberKey(m *tocsinv1.Member) (*Signer, nkeys.KeyPair, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, nil, err
	}
	s, err := NewSigner(m.GetId(), kp)
	if err != nil {
		return nil, nil, err
	}
	m.Keys = []*tocsinv1.SigningKey{{PublicKey: s.KeyID(), NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
	return s, kp, nil
}
