package members

import (
	"errors"
	"fmt"

	"github.com/tocsin-project/tocsin/envelope"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotFound is wrapped when no member has the id asked for. It also
	// matches envelope.ErrUnknownMember, so a Registry serves the envelope
	// verifier as it is.
	ErrNotFound error = notFound{}
	// ErrExists is wrapped when Add is given an id already registered.
	ErrExists = errors.New("member already registered")
	// ErrInvalid is wrapped by every validation error: a member record, a
	// seed file, a vocabulary.
	ErrInvalid = errors.New("invalid")
	// ErrUnknownWord is wrapped when a sector, lane, capability type or role
	// is not in the vocabulary.
	ErrUnknownWord = errors.New("not in the vocabulary")
	// ErrConflict is wrapped when Update loses the compare-and-set race more
	// times than it retries.
	ErrConflict = errors.New("member record changed concurrently")
	// ErrRevoked is wrapped when a change needs a member that is not revoked.
	ErrRevoked = errors.New("member revoked")
)

// notFound is ErrNotFound: its own message, and envelope.ErrUnknownMember
// in its chain.
type notFound struct{}

// Error returns the sentinel's message.
func (notFound) Error() string { return "no such member" }

// Unwrap returns envelope.ErrUnknownMember.
func (notFound) Unwrap() error { return envelope.ErrUnknownMember }

// quietError is an error whose message is its own text alone, but which
// still matches a sentinel with errors.Is, so a list of problems does not
// repeat the sentinel's text on every line.
type quietError struct {
	err      error
	sentinel error
}

// quiet formats an error as fmt.Errorf does (%w included) that also
// matches sentinel.
func quiet(sentinel error, format string, args ...any) error {
	return quietError{err: fmt.Errorf(format, args...), sentinel: sentinel}
}

// Error returns the formatted text.
func (e quietError) Error() string { return e.err.Error() }

// Unwrap returns the sentinel and the formatted error (with what it wraps).
func (e quietError) Unwrap() []error { return []error{e.sentinel, e.err} }
