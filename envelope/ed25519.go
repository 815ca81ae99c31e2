package envelope

import (
	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// stdlibRules makes curve25519-voi accept exactly what crypto/ed25519
// accepts (cofactorless equation, canonical S, small-order and
// non-canonical keys as the standard library treats them), so the choice of
// implementation changes no verdict: TestVerifyMatchesStdlib and
// FuzzVerifyMatchesStdlib hold it to that.
var stdlibRules = &voied25519.Options{Verify: voied25519.VerifyOptionsStdLib}

// verifyEd25519 reports whether sig is pub's signature of msg. Every
// envelope the router routes and every copy an agent writes is checked
// here, so it uses curve25519-voi (the verifier of CometBFT and Oasis),
// about 1.7 times as fast as crypto/ed25519 on amd64 (docs/PERFORMANCE.md).
// Signing stays with crypto/ed25519.
func verifyEd25519(pub, msg, sig []byte) bool {
	if len(pub) != voied25519.PublicKeySize || len(sig) != voied25519.SignatureSize {
		return false
	}
	return voied25519.VerifyWithOptions(voied25519.PublicKey(pub), msg, sig, stdlibRules)
}
