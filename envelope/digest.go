package envelope

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Domain is the prefix of every envelope digest; it keeps a signature over an
// envelope from ever being valid for anything else signed with the same key.
const Domain = "tocsin/v1/envelope\x00"

// DigestSize is the length of a digest in bytes.
const DigestSize = sha256.Size

// Digest returns the bytes an envelope's signature covers: SHA-256 over
// Domain and the length-prefixed fields id, kind, sender, key_id, time,
// payload and via, in that order. The signature field itself is not covered.
// See the package documentation for the exact encoding.
func Digest(env *tocsinv1.Envelope) [DigestSize]byte {
	h := sha256.New()
	h.Write([]byte(Domain))
	var num [12]byte
	field(h, []byte(env.GetId()))
	binary.BigEndian.PutUint64(num[:8], uint64(int64(env.GetKind())))
	field(h, num[:8])
	field(h, []byte(env.GetSender()))
	field(h, []byte(env.GetKeyId()))
	if t := env.GetTime(); t != nil {
		binary.BigEndian.PutUint64(num[:8], uint64(t.GetSeconds()))
		binary.BigEndian.PutUint32(num[8:], uint32(t.GetNanos()))
		field(h, num[:12])
	} else {
		field(h, nil)
	}
	field(h, env.GetPayload())
	field(h, []byte(env.GetVia()))
	var sum [DigestSize]byte
	h.Sum(sum[:0])
	return sum
}

// field writes b to h preceded by its length as an 8-byte big-endian integer.
func field(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
