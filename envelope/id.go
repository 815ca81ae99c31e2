package envelope

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// MaxIDLen is the longest message id accepted. An id becomes part of the
// Nats-Msg-Id "<id>:<destination>" of every routed copy, so it is kept short.
const MaxIDLen = 64

// crockford is Crockford's base32 alphabet, as ULID uses it.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a fresh message id: a ULID, 26 characters of Crockford
// base32 encoding 48 bits of Unix milliseconds followed by 80 bits from
// crypto/rand. Ids sort by creation time to the millisecond.
//
// The random part is never derived from a previous id (no monotonic
// increment): JetStream deduplicates Nats-Msg-Id across the whole ingest
// stream, so a member able to predict another member's next id could publish
// it first and have the genuine message dropped as a duplicate.
func NewID() string {
	return newID(time.Now())
}

// newID returns an id for time t.
func newID(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	// crypto/rand.Read never returns an error (it panics if the system
	// random source fails, which Go treats as fatal).
	_, _ = rand.Read(b[6:])
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	// 128 bits in 26 groups of 5 bits: the first group holds the top 3 bits.
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// ValidID reports whether id may be a message id: 1 to MaxIDLen characters
// from [A-Za-z0-9_-], so that it is a safe NATS subject token and header value.
func ValidID(id string) bool {
	return validToken(id, MaxIDLen)
}

// validToken reports whether s is 1 to max characters from [A-Za-z0-9_-].
func validToken(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// MaxMemberIDLen is the longest member id accepted.
const MaxMemberIDLen = 63

// ValidMemberID reports whether id may be a member id: 1 to MaxMemberIDLen
// lowercase letters, digits and dashes, starting with a letter ("st-mary").
func ValidMemberID(id string) bool {
	if len(id) == 0 || len(id) > MaxMemberIDLen || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
