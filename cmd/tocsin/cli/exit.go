package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/client"
)

// Exit codes shared by every subcommand.
const (
	ExitOK          = 0 // success
	ExitUsage       = 1 // bad flags or arguments, bad configuration
	ExitRejected    = 2 // the cluster refused the request
	ExitUnreachable = 3 // cannot connect or authenticate
	ExitTimeout     = 4 // timed out waiting
	ExitNotAccepted = 5 // the cluster refused the credentials: revoked, replaced or of another cluster
)

// exitError carries an exit code with the one-line reason printed on failure.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as a usage or configuration problem (exit 1).
func usageErr(format string, v ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, v...)}
}

// rejectedErr marks err as the cluster saying no (exit 2).
func rejectedErr(err error) error { return &exitError{ExitRejected, err} }

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, client.ErrNotAccepted):
		return ExitNotAccepted
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return ExitTimeout
	case errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrAuthorization),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrAuthExpired),
		errors.Is(err, nats.ErrAuthRevoked):
		return ExitUnreachable
	default:
		return ExitRejected
	}
}
