package envelope

import (
	"sync"

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
// seen in curve25519-voi's expanded form: the point decoded and its table
// precomputed once, not on every signature (about 6 µs of 45 on this
// project's machines). Every envelope the router routes and every copy an
// agent writes is checked here, so it uses curve25519-voi (the verifier of
// CometBFT and Oasis), about 1.7 times as fast as crypto/ed25519 on amd64
// (docs/PERFORMANCE.md). Signing stays with crypto/ed25519. The zero value
// is ready; it is safe for concurrent use.
type keyCache struct {
	mu   sync.RWMutex
	keys map[string]*voied25519.ExpandedPublicKey
}

// verify reports whether sig is pub's signature of msg.
func (c *keyCache) verify(pub, msg, sig []byte) bool {
	if len(pub) != voied25519.PublicKeySize || len(sig) != voied25519.SignatureSize {
		return false
	}
	c.mu.RLock()
	k := c.keys[string(pub)]
	c.mu.RUnlock()
	if k == nil {
		var err error
		if k, err = voied25519.NewExpandedPublicKey(voied25519.PublicKey(pub)); err != nil {
			return false // not a point: crypto/ed25519 refuses it too
		}
		c.mu.Lock()
		if c.keys == nil || len(c.keys) >= maxExpandedKeys {
			c.keys = map[string]*voied25519.ExpandedPublicKey{}
		}
		c.keys[string(pub)] = k
		c.mu.Unlock()
	}
	return voied25519.VerifyExpandedWithOptions(k, msg, sig, stdlibRules)
}
