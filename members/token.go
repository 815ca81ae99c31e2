package members

import "strings"

// maxToken is the longest id, region or vocabulary word.
const maxToken = 63

// tokenRule says what isToken accepts, for error messages.
const tokenRule = "lowercase letters, digits and dashes, starting with a letter, at most 63 characters"

// isToken reports whether s is a lowercase token: letters a-z, digits and
// dashes, starting with a letter, 1 to 63 characters. Ids, regions and
// vocabulary words are tokens, so they are safe as NATS subject tokens and
// KV keys.
func isToken(s string) bool {
	if len(s) == 0 || len(s) > maxToken || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
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
