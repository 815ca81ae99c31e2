package codes

import (
	"errors"
	"fmt"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Error is a refusal with a machine-readable code. errors.Is(err, Err(c))
// reports whether err carries code c anywhere in its chain.
type Error struct {
	// Code is the machine-readable reason.
	Code tocsinv1.RejectionCode
	// Msg explains, for a human, what was wrong and what to do.
	Msg string
	// ObjectID is the STIX object concerned, when there is one.
	ObjectID string
	// Path is the JSON path within the object or bundle ("/objects/2/pattern").
	Path string
	// cause is the error Msg was formatted from, for Unwrap.
	cause error
}

// Errorf returns an *Error with code c and a message formatted as by
// fmt.Errorf; an error wrapped with %w stays reachable with errors.Is and
// errors.As.
func Errorf(c tocsinv1.RejectionCode, format string, args ...any) *Error {
	cause := fmt.Errorf(format, args...)
	return &Error{Code: c, Msg: cause.Error(), cause: cause}
}

// Err returns the sentinel for code c, to test an error with errors.Is.
func Err(c tocsinv1.RejectionCode) error {
	return &Error{Code: c}
}

// Error returns the code's wire name followed by the message.
func (e *Error) Error() string {
	if e.Msg == "" {
		return Name(e.Code)
	}
	return Name(e.Code) + ": " + e.Msg
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the error the message was formatted from, if any.
func (e *Error) Unwrap() error {
	return e.cause
}

// Of returns the code of the first *Error in err's chain, or MALFORMED when
// there is none (an error without a code is taken as undecodable input),
// or UNSPECIFIED when err is nil.
func Of(err error) tocsinv1.RejectionCode {
	if err == nil {
		return tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED
}

// Problem turns err into a wire Problem: the code, object, path and message
// of the first *Error in its chain, or MALFORMED with err's text when it
// carries no code. It returns nil for a nil error.
func Problem(err error) *tocsinv1.Problem {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		return &tocsinv1.Problem{Code: tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED, Message: err.Error()}
	}
	msg := e.Msg
	if msg == "" {
		msg = Name(e.Code)
	}
	return &tocsinv1.Problem{Code: e.Code, ObjectId: e.ObjectID, Path: e.Path, Message: msg}
}

// Problems turns every coded error in err's tree (as built by errors.Join)
// into a Problem, in order; an *Error's own causes are not searched. When the
// tree holds no *Error the result is the single MALFORMED Problem(err).
func Problems(err error) []*tocsinv1.Problem {
	var out []*tocsinv1.Problem
	each(err, func(e error) { out = append(out, Problem(e)) })
	return out
}

// each calls f with every error of err that Problems lists: each *Error of
// its tree, or err itself when it holds none.
func each(err error, f func(error)) {
	if err == nil {
		return
	}
	found := false
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
		case *Error:
			found = true
			f(x)
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	if !found {
		f(err)
	}
}
