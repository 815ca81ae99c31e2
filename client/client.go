// Package client is how a member talks to a Tocsin cluster: it connects
// with the member's .creds file (the member id is the user JWT's name, the
// signing key its NKey seed), seals and publishes messages on the member's
// ingest subjects, and reads the router's outcome of each.
package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// Options configures a Client.
type Options struct {
	// Servers are the cluster URLs, comma-separated. Required.
	Servers string
	// CredsFile is the member's .creds file. Required.
	CredsFile string
	// Name names the connection in the server's monitoring. Default "tocsin".
	Name string
	// Timeout bounds connecting. Default 10s.
	Timeout time.Duration
	// NATS are extra connection options (reconnect handlers, ...).
	NATS []nats.Option
}

// Client is a member's connection.
type Client struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	signer *envelope.Signer
	member string
	// lastDomain is the JetStream domain of the last PubAck (StoredAtSite).
	lastDomain atomicString
	// lastStream is the stream of the last PubAck (StoredInRegion).
	lastStream atomicString
}

// ErrCreds is wrapped when a credentials file cannot be used.
var ErrCreds = errors.New("unusable credentials")

// MemberFromCreds returns the member id a .creds file authenticates: the
// name of its user JWT.
func MemberFromCreds(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrCreds, err)
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v; is it a NATS .creds file?", ErrCreds, path, err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrCreds, path, err)
	}
	if !envelope.ValidMemberID(uc.Name) {
		return "", fmt.Errorf("%w: %s: user name %q is not a member id", ErrCreds, path, uc.Name)
	}
	return uc.Name, nil
}

// Connect connects as the member of opts.CredsFile.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	if opts.CredsFile == "" {
		return nil, fmt.Errorf("%w: a .creds file is required (--creds or $TOCSIN_CREDS)", ErrCreds)
	}
	member, err := MemberFromCreds(opts.CredsFile)
	if err != nil {
		return nil, err
	}
	signer, err := envelope.SignerFromCredsFile(member, opts.CredsFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCreds, err)
	}
	if opts.Name == "" {
		opts.Name = "tocsin"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	nopts := append([]nats.Option{
		nats.UserCredentials(opts.CredsFile),
		nats.CustomInboxPrefix(auth.InboxPrefix(member)),
		nats.Name(opts.Name + " " + member),
		nats.Timeout(opts.Timeout),
	}, opts.NATS...)
	nc, err := nats.Connect(opts.Servers, nopts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s as %s: %w", opts.Servers, member, ConnectError(err, opts.Servers, member, nopts...))
	}
	js, err := jsctx.JetStream(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Client{nc: nc, js: js, signer: signer, member: member}, nil
}

// Member is the member id the client acts as.
func (c *Client) Member() string { return c.member }

// Conn is the underlying connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// JetStream is the client's JetStream context.
func (c *Client) JetStream() jetstream.JetStream { return c.js }

// Signer is the member's signer.
func (c *Client) Signer() *envelope.Signer { return c.signer }

// Close closes the connection.
func (c *Client) Close() { c.nc.Close() }

// Publish seals payload and publishes it on the member's ingest subject for
// its kind, with the envelope id as message id, and waits for the PubAck:
// only an acknowledged message is promised.
func (c *Client) Publish(ctx context.Context, kind tocsinv1.Kind, payload proto.Message, opts ...envelope.SealOption) (*tocsinv1.Envelope, error) {
	env, err := c.signer.Seal(kind, payload, opts...)
	if err != nil {
		return nil, err
	}
	return env, c.PublishEnvelope(ctx, env)
}

// PublishEnvelope publishes an already sealed envelope (a retry keeps its id,
// so JetStream and the router drop the copy).
func (c *Client) PublishEnvelope(ctx context.Context, env *tocsinv1.Envelope) error {
	token, ok := records.IngestToken(env.GetKind())
	if !ok {
		return fmt.Errorf("a member does not publish %s messages", env.GetKind())
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return err
	}
	// A PubAck can be lost (a node lost while the connection moves, a
	// stream electing its leader): each attempt waits publishAttempt and
	// the same message id is sent again until ctx ends; the stream keeps
	// one copy.
	for {
		actx, cancel := context.WithTimeout(ctx, publishAttempt)
		ack, err := c.js.Publish(actx, subjects.Ingest(token, c.member), data, jetstream.WithMsgID(env.GetId()))
		cancel()
		if err == nil {
			c.lastDomain.Store(ack.Domain)
			c.lastStream.Store(ack.Stream)
			return nil
		}
		if ctx.Err() != nil || !retryable(err) {
			return fmt.Errorf("publish %s %s: %w", env.GetKind(), env.GetId(), err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publishAttempt is how long one publish waits for its PubAck.
const publishAttempt = 4 * time.Second

// retryable reports whether a publish may succeed if sent again.
func retryable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errDuplicateInProcess {
		return true // the earlier attempt is still being stored: wait for it
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrConnectionReconnecting)
}

// errDuplicateInProcess is JetStream's "duplicate message id is in
// process": a publish of the same id is still being stored.
const errDuplicateInProcess jetstream.ErrorCode = 10158

// Outcome returns the router's outcome of one of the member's messages,
// nil while there is none yet.
func (c *Client) Outcome(ctx context.Context, id string) (*tocsinv1.Outcome, error) {
	msg, err := c.nc.RequestWithContext(ctx, auth.RoutedGetSubject(c.member, id), nil)
	if err != nil {
		return nil, fmt.Errorf("read outcome of %s: %w", id, err)
	}
	if status := msg.Header.Get("Status"); status == "404" {
		return nil, nil
	} else if status != "" {
		return nil, fmt.Errorf("read outcome of %s: status %s %s", id, status, msg.Header.Get("Description"))
	}
	var o tocsinv1.Outcome
	if err := proto.Unmarshal(msg.Data, &o); err != nil {
		return nil, fmt.Errorf("outcome of %s is corrupt: %w", id, err)
	}
	return &o, nil
}

// WaitOutcome polls Outcome until the router has decided or ctx ends.
func (c *Client) WaitOutcome(ctx context.Context, id string) (*tocsinv1.Outcome, error) {
	wait := 10 * time.Millisecond
	for {
		o, err := c.Outcome(ctx, id)
		if o != nil || (err != nil && ctx.Err() != nil) {
			return o, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no outcome for %s yet: %w", id, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}
