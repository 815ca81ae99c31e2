package envelope

import (
	"github.com/nats-io/nkeys"
	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
)

// DefaultMaxSize is the envelope size limit Decode applies when given none:
// the NATS server's default max_payload, 1 MiB.
const DefaultMaxSize = 1 << 20

// MaxViaLen is the longest via label accepted ("taxii").
const MaxViaLen = 32

// Marshal validates env (see Validate) and encodes it deterministically.
func Marshal(env *tocsinv1.Envelope) ([]byte, error) {
	if err := Validate(env); err != nil {
		return nil, err
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(env)
	if err != nil {
		return nil, codes.Errorf(malformed, "envelope %s does not encode: %w", env.GetId(), err)
	}
	return data, nil
}

// Decode parses an encoded envelope and checks its shape with Validate; it
// does not verify the signature (see Verifier). Input longer than limit bytes
// (DefaultMaxSize when limit <= 0) is OVERSIZED; input that is not a protobuf
// Envelope is MALFORMED. Unknown fields are kept, so an envelope from a newer
// sender still decodes.
func Decode(data []byte, limit int) (*tocsinv1.Envelope, error) {
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	if len(data) > limit {
		return nil, codes.Errorf(oversized, "the envelope is %d bytes, the limit is %d; send the STIX bundle in smaller parts", len(data), limit)
	}
	env := new(tocsinv1.Envelope)
	if err := proto.Unmarshal(data, env); err != nil {
		return nil, codes.Errorf(malformed, "not a tocsin.v1.Envelope (%w); publish the protobuf encoding of a signed envelope", err)
	}
	if err := Validate(env); err != nil {
		return nil, err
	}
	return env, nil
}

// Validate checks that every required field of a signed envelope is present
// and well formed: id (ValidID), a known kind, sender (ValidMemberID), key_id
// (an NKey user public key), a valid time, a signature, and via, when set,
// 1 to MaxViaLen characters from [A-Za-z0-9_-]. Each failure is a MALFORMED
// *codes.Error naming the field.
func Validate(env *tocsinv1.Envelope) error {
	if err := validateUnsigned(env); err != nil {
		return err
	}
	if len(env.GetSignature()) == 0 {
		return codes.Errorf(malformed, "envelope %s has no signature; sign it with the sender's key", env.GetId())
	}
	return nil
}

// validateUnsigned checks every field Validate checks but the signature.
func validateUnsigned(env *tocsinv1.Envelope) error {
	if env == nil {
		return codes.Errorf(malformed, "no envelope")
	}
	if !ValidID(env.GetId()) {
		return codes.Errorf(malformed, "id %q is not 1 to %d characters from [A-Za-z0-9_-]; use envelope.NewID", clip(env.GetId()), MaxIDLen)
	}
	if _, ok := payloadTypes[env.GetKind()]; !ok {
		return codes.Errorf(malformed, "envelope %s: kind %v is not a known message kind", env.GetId(), env.GetKind())
	}
	if !ValidMemberID(env.GetSender()) {
		return codes.Errorf(malformed, "envelope %s: sender %q is not a member id (1 to %d lowercase letters, digits and dashes, starting with a letter)",
			env.GetId(), clip(env.GetSender()), MaxMemberIDLen)
	}
	if !nkeys.IsValidPublicUserKey(env.GetKeyId()) {
		return codes.Errorf(malformed, "envelope %s: key_id %q is not an NKey user public key (\"U...\")", env.GetId(), clip(env.GetKeyId()))
	}
	if env.GetTime() == nil {
		return codes.Errorf(malformed, "envelope %s has no time; set it to the time the message was created", env.GetId())
	}
	if err := env.GetTime().CheckValid(); err != nil {
		return codes.Errorf(malformed, "envelope %s: time is not valid: %w", env.GetId(), err)
	}
	if via := env.GetVia(); via != "" && !validToken(via, MaxViaLen) {
		return codes.Errorf(malformed, "envelope %s: via %q is not 1 to %d characters from [A-Za-z0-9_-]", env.GetId(), clip(via), MaxViaLen)
	}
	return nil
}

// clip shortens an untrusted string for an error message.
func clip(s string) string {
	const most = 80
	if len(s) <= most {
		return s
	}
	return s[:most] + "..."
}
