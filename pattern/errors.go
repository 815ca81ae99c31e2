package pattern

import (
	"errors"
	"fmt"
)

// Codes of an Error: the wire names of tocsinv1.RejectionCode values.
const (
	// CodeInvalidPattern marks a pattern that is not valid STIX 2.1 patterning.
	CodeInvalidPattern = "invalid-pattern"
	// CodeInvalidHash marks a hash value that does not fit its algorithm.
	CodeInvalidHash = "invalid-hash"
)

// Sentinels matched by errors.Is against an *Error of the same Code. A hash
// error matches ErrInvalidHash only, not ErrInvalidPattern.
var (
	// ErrInvalidPattern is matched by every Error whose Code is CodeInvalidPattern.
	ErrInvalidPattern = errors.New("invalid pattern")
	// ErrInvalidHash is matched by every Error whose Code is CodeInvalidHash.
	ErrInvalidHash = errors.New("invalid hash")
)

// Error is a parse or check failure: its code, the byte offset in the
// pattern where the problem was found, and a message that says what was
// wrong and what was expected.
type Error struct {
	// Code is CodeInvalidPattern or CodeInvalidHash.
	Code string
	// Offset is the byte offset in the pattern of the offending text.
	Offset int
	// Msg says what was wrong, in lower case, without the offset.
	Msg string
}

// Error returns "pattern: offset N: " followed by the message.
func (e *Error) Error() string {
	return fmt.Sprintf("pattern: offset %d: %s", e.Offset, e.Msg)
}

// Is reports whether target is the sentinel of e's Code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalidPattern:
		return e.Code == CodeInvalidPattern
	case ErrInvalidHash:
		return e.Code == CodeInvalidHash
	}
	return false
}

// errorf returns an invalid-pattern Error at offset off.
func errorf(off int, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidPattern, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// hashErrorf returns an invalid-hash Error at offset off.
func hashErrorf(off int, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidHash, Offset: off, Msg: fmt.Sprintf(format, args...)}
}
