// Package ids makes the UUIDs Tocsin needs (RFC 9562): random ones for
// STIX objects and bundles, name-based ones for TAXII collection ids.
package ids

import (
	"crypto/rand"
	"crypto/sha1"
	"fmt"
)

// format writes 16 bytes as a UUID with the given version.
func format(b []byte, version byte) string {
	b[6] = b[6]&0x0f | version<<4
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// V4 returns a random UUID.
func V4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return format(b[:], 4)
}

// V5 returns the name-based (SHA-1) UUID of name in namespace: the same
// name always gives the same UUID.
func V5(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	return format(h.Sum(nil)[:16], 5)
}
