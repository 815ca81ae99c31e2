package envelope

import (
	"crypto/ed25519"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/nats-io/nkeys"
)

// edgePoints are the encodings that split Ed25519 implementations: the
// eight small-order points and the non-canonical encodings of points
// ("Taming the many EdDSAs", ZIP 215's test vectors).
var edgePoints = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"0100000000000000000000000000000000000000000000000000000000000080",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
}

// groupOrder is L, the order of the base point.
var groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// leBytes32 is n as 32 little-endian bytes (n < 2^256).
func leBytes32(n *big.Int) []byte {
	be := n.FillBytes(make([]byte, 32))
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}

func leInt(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(be)
}

// verifyCases are (key, message, signature) triples on both sides of every
// rule: valid signatures, each one altered, S not reduced, and every edge
// point as key and as R with S of 0, 1 and L-1.
func verifyCases(t testing.TB) [][3][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var cases [][3][]byte
	for i := range 8 {
		seed := make([]byte, ed25519.SeedSize)
		for j := range seed {
			seed[j] = byte(rng.UintN(256))
		}
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		msg := []byte("tocsin envelope digest " + string(rune('a'+i)))
		sig := ed25519.Sign(priv, msg)
		cases = append(cases, [3][]byte{pub, msg, sig})
		bad := append([]byte(nil), sig...)
		bad[rng.IntN(64)] ^= 1 << rng.UintN(8)
		cases = append(cases, [3][]byte{pub, msg, bad})
		cases = append(cases, [3][]byte{pub, append(msg, '!'), sig})
		if s := new(big.Int).Add(leInt(sig[32:]), groupOrder); s.BitLen() <= 256 {
			cases = append(cases, [3][]byte{pub, msg, append(append([]byte(nil), sig[:32]...), leBytes32(s)...)})
		}
	}
	scalars := [][]byte{leBytes32(big.NewInt(0)), leBytes32(big.NewInt(1)), leBytes32(new(big.Int).Sub(groupOrder, big.NewInt(1)))}
	for _, a := range edgePoints {
		for _, r := range edgePoints {
			for _, s := range scalars {
				pub, _ := hex.DecodeString(a)
				rb, _ := hex.DecodeString(r)
				cases = append(cases, [3][]byte{pub, []byte("Zcash"), append(rb, s...)})
			}
		}
	}
	return cases
}

// verifyPub verifies through keys as the verifier does: the public key
// named by its NKey text, looked up (and expanded on first use), then the
// signature checked with it.
func verifyPub(t testing.TB, keys *keyCache, pub, msg, sig []byte) bool {
	keyID, err := nkeys.Encode(nkeys.PrefixByteUser, pub)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := keys.lookup(string(keyID))
	if ok != (len(pub) == ed25519.PublicKeySize) {
		t.Fatalf("a %d-byte key looked up: %v", len(pub), ok)
	}
	return ok && verifyExpanded(k, msg, sig)
}

// TestVerifyMatchesStdlib: curve25519-voi with stdlibRules gives
// crypto/ed25519's verdict on every case, valid or not.
func TestVerifyMatchesStdlib(t *testing.T) {
	accepted := 0
	var keys keyCache
	for i, c := range verifyCases(t) {
		want := ed25519.Verify(c[0], c[1], c[2])
		// Twice: with the key expanded for this call, then from the cache.
		for _, pass := range []string{"first", "cached"} {
			if got := verifyPub(t, &keys, c[0], c[1], c[2]); got != want {
				t.Errorf("case %d (%s key): key %x sig %x: voi says %v, crypto/ed25519 says %v", i, pass, c[0], c[2], got, want)
			}
		}
		if want {
			accepted++
		}
	}
	// Both sides of the rules are exercised: the valid signatures, and
	// edge cases crypto/ed25519 accepts (identity key, R and S = 0).
	if accepted < 9 {
		t.Fatalf("only %d cases verify; the corpus lost its valid side", accepted)
	}
}

// FuzzVerifyMatchesStdlib: no key, message or signature makes the two
// implementations disagree.
func FuzzVerifyMatchesStdlib(f *testing.F) {
	for _, c := range verifyCases(f) {
		f.Add(c[0], c[1], c[2])
	}
	var keys keyCache // shared by the inputs: keys come from the cache too
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != ed25519.PublicKeySize {
			if verifyPub(t, &keys, pub, msg, sig) {
				t.Fatalf("a %d-byte key verified", len(pub))
			}
			return
		}
		want := ed25519.Verify(pub, msg, sig)
		for range 2 {
			if got := verifyPub(t, &keys, pub, msg, sig); got != want {
				t.Fatalf("key %x msg %x sig %x: voi says %v, crypto/ed25519 says %v", pub, msg, sig, got, want)
			}
		}
	})
}

// TestKeyCacheStaysBoundedAndRight: a keyCache holds at most
// maxExpandedKeys keys, keeps verifying right once it starts over, never
// answers for one key with another's expansion, and is safe for
// concurrent use.
func TestKeyCacheStaysBoundedAndRight(t *testing.T) {
	var keys keyCache
	msg := []byte("tocsin envelope digest")
	type signed struct{ pub, sig []byte }
	var all []signed
	for i := range maxExpandedKeys + 10 {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = byte(i), byte(i>>8)
		priv := ed25519.NewKeyFromSeed(seed)
		all = append(all, signed{priv.Public().(ed25519.PublicKey), ed25519.Sign(priv, msg)})
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(all); i += 4 {
				s, other := all[i], all[(i+1)%len(all)]
				if !verifyPub(t, &keys, s.pub, msg, s.sig) {
					t.Errorf("key %d: its own signature does not verify", i)
				}
				if verifyPub(t, &keys, s.pub, msg, other.sig) || verifyPub(t, &keys, other.pub, msg, s.sig) {
					t.Errorf("key %d: another key's signature verifies", i)
				}
			}
		})
	}
	wg.Wait()
	keys.mu.RLock()
	n := len(keys.keys)
	keys.mu.RUnlock()
	if n == 0 || n > maxExpandedKeys {
		t.Errorf("%d keys cached; want between 1 and %d", n, maxExpandedKeys)
	}
}
