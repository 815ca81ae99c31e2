package members

import (
	"strings"

	"github.com/tocsin-project/tocsin/envelope"
)

// tokenRule says what isToken accepts, for error messages.
const tokenRule = "lowercase letters, digits and dashes, starting with a letter, at most 63 characters"

// isToken reports whether s is a lowercase token: the rule of a member id
// (envelope.ValidMemberID), which regions and vocabulary words follow too,
// so every one of them is a safe NATS subject token and KV key.
func isToken(s string) bool {
	return envelope.ValidMemberID(s)
}

// isCapabilityID reports whether s is one or more tokens joined by "/"
// ("ir-firm/incident-response").
func isCapabilityID(s string) bool {
	for part := range strings.SplitSeq(s, "/") {
		if !isToken(part) {
			return false
		}
	}
	return true
}
