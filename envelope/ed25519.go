package envelope

import (
	"sync"

	"github.com/nats-io/nkeys"
	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// stdlibRules makes curve25519-voi accept exactly what crypto/ed25519
// accepts (cofactorless equation, canonical S, small-order and
// non-canonical keys as the standard library treats them), so the choice of
// implementation changes no verdict: TestVerifyMatchesStdlib and
// FuzzVerifyMatchesStdlib hold it to that.
var stdlibRules = &voied25519.Options{Verify: voied25519.VerifyOptionsStdLib}

// maxExpandedKeys bounds a keyCache: about 1.5 KiB each, 12 MiB in all.
const maxExpandedKeys = 8192

// keyCache verifies Ed25519 signatures, keeping each public key it has
// seen, by its NKey text, in curve25519-voi's expanded form: decoded from
// the NKey and the point decoded and its table precomputed once, not on
// every signature (about 8 µs of 45 on this project's machines). Every
// envelope the router routes and every copy an agent writes is checked
// here, so it uses curve25519-voi (the verifier of CometBFT and Oasis),
// about 1.5 times as fast as crypto/ed25519 on amd64 (docs/PERFORMANCE.md).
// Signing stays with crypto/ed25519. The zero value is ready; it is safe
// for concurrent use.
type keyCache struct {
	mu   sync.RWMutex
	keys map[string]*voied25519.ExpandedPublicKey // nil: 32 bytes, but not a point
}

// lookup returns the key named keyID (an NKey user public key), expanded.
// ok is false when keyID is not an NKey user key of 32 bytes; a nil key
// with ok true is one whose bytes are not a curve point, which verifies
// nothing.
func (c *keyCache) lookup(keyID string) (k *voied25519.ExpandedPublicKey, ok bool) {
	c.mu.RLock()
	k, ok = c.keys[keyID]
	c.mu.RUnlock()
	if ok {
		return k, true
	}
	pub, err := nkeys.Decode(nkeys.PrefixByteUser, []byte(keyID))
	if err != nil || len(pub) != voied25519.PublicKeySize {
		return nil, false
	}
	k, _ = voied25519.NewExpandedPublicKey(voied25519.PublicKey(pub)) // not a point: crypto/ed25519 refuses it too
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxExpandedKeys {
		c.keys = map[string]*voied25519.ExpandedPublicKey{}
	}
	c.keys[keyID] = k
	c.mu.Unlock()
	return k, true
}

// verifyExpanded reports whether sig is k's signature of msg.
func verifyExpanded(k *voied25519.ExpandedPublicKey, msg, sig []byte) bool {
	return k != nil && len(sig) == voied25519.SignatureSize && voied25519.VerifyExpandedWithOptions(k, msg, sig, stdlibRules)
}
