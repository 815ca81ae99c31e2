package broker

import "errors"

var (
	// ErrInvalidOptions is wrapped by every options validation error.
	ErrInvalidOptions = errors.New("invalid broker options")
	// ErrServerFatal is wrapped by errors the embedded server reported as fatal
	// (a port in use, an unusable store directory).
	ErrServerFatal = errors.New("nats server failed")
	// ErrNotReady is wrapped when a node or cluster did not become ready in time.
	ErrNotReady = errors.New("not ready")
)
