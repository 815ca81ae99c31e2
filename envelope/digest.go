package envelope

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

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
	bp := digestBufs.Get().(*[]byte)
	b := append((*bp)[:0], Domain...)
	b = field(b, env.GetId())
	b = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b, 8), uint64(int64(env.GetKind())))
	b = field(b, env.GetSender())
	b = field(b, env.GetKeyId())
	if t := env.GetTime(); t != nil {
		b = binary.BigEndian.AppendUint64(b, 12)
		b = binary.BigEndian.AppendUint64(b, uint64(t.GetSeconds()))
		b = binary.BigEndian.AppendUint32(b, uint32(t.GetNanos()))
	} else {
		b = field(b, "")
	}
	b = field(b, env.GetPayload())
	b = field(b, env.GetVia())
	sum := sha256.Sum256(b)
	if cap(b) <= maxDigestBuf {
		*bp = b
		digestBufs.Put(bp)
	}
	return sum
}

// digestBufs keep the buffers digests are computed over: every envelope
// routed, received or sealed has one.
var digestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxDigestBuf is the largest buffer kept for another digest.
const maxDigestBuf = 64 << 10

// field appends f to b preceded by its length as an 8-byte big-endian
// integer.
func field[T []byte | string](b []byte, f T) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
	return append(b, f...)
}
