package mutualaid

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// Options configures a Service. The zero value is the default.
type Options struct {
	// Vocabulary names the lanes and capability types. Default
	// members.DefaultVocabulary().
	Vocabulary members.Vocabulary
	// MaxSkew is how far an envelope's time may be from the ingest stream's
	// timestamp. Default envelope.DefaultMaxSkew (5 minutes).
	MaxSkew time.Duration
	// MaxMessageBytes is the largest envelope accepted. Default 1 MiB.
	MaxMessageBytes int
	// Durable is the shared durable consumer's name on INGEST. Default "aid".
	Durable string
	// AckWait is how long a message may be in processing before JetStream
	// redelivers it (to this or another node). Default 30s.
	AckWait time.Duration
	// Retry are the delays before a message whose handling failed for a
	// transient reason (the cluster, not the message) is delivered again,
	// after its first, second, ... delivery; a message still failing at
	// the delivery after the last is dead-lettered (internal/deadletter).
	// Default deadletter.DefaultRetry (1 s, 1 s, 2 s, 3 s ... 5 min: 9 minutes
	// in all).
	Retry []time.Duration
	// DeadLetterEvery is how often a dead-lettered message is tried again
	// until it is decided. Default deadletter.DefaultEvery (10 minutes).
	DeadLetterEvery time.Duration
	// Workers is how many messages are processed at once; one sender's
	// messages always go to the same worker, so its order is kept. Default 8.
	Workers int
	// DefaultExpiry is how long a request without expires_at stays open.
	// Default 48h.
	DefaultExpiry time.Duration
	// MaxExpiry is the longest a request may stay open. Default 30 days.
	MaxExpiry time.Duration
	// ExpiryCheck is how often every node looks for requests past their
	// expiry. Default 1s.
	ExpiryCheck time.Duration
	// QueryWorkers bounds the read requests answered at once. Default 16.
	QueryWorkers int
	// Region is the node's region in a supercluster whose regions each
	// hold their own stream set (docs/REGIONS.md, broker.RegionSet): the
	// service reads INGEST-<region>, publishes on the region's subjects and
	// keeps its records in the region's buckets (AID-<region>, ...).
	// Default "": the streams, buckets and subjects of a single cluster.
	Region string
	// AidRegion is the region whose AID-<region> bucket and
	// AID_AUDIT-<region> stream hold the whole channel's mutual-aid state,
	// written by every region's services through the gateways: an accept
	// books a responder's capacity with the request in one atomic batch,
	// which cannot span two buckets, and a request of one region is
	// answered by responders of any (docs/REGIONS.md, "Mutual aid across
	// regions"). Only with Region. Default: the registry's region, where
	// the MEMBERS bucket's stream is placed (broker.RegionSet), found when
	// the service starts.
	AidRegion string
}

func (o Options) withDefaults() Options {
	o.Vocabulary = o.Vocabulary.WithDefaults()
	if o.MaxSkew == 0 {
		o.MaxSkew = envelope.DefaultMaxSkew
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = envelope.DefaultMaxSize
	}
	if o.Durable == "" {
		o.Durable = "aid"
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.Workers == 0 {
		o.Workers = 8
	}
	if o.DefaultExpiry == 0 {
		o.DefaultExpiry = 48 * time.Hour
	}
	if o.MaxExpiry == 0 {
		o.MaxExpiry = 30 * 24 * time.Hour
	}
	if o.ExpiryCheck == 0 {
		o.ExpiryCheck = time.Second
	}
	if o.QueryWorkers == 0 {
		o.QueryWorkers = 16
	}
	return o
}

// ErrInvalidOptions is wrapped by New's error for options out of range.
var ErrInvalidOptions = errors.New("invalid mutual-aid options")

func (o Options) validate() error {
	if err := o.Vocabulary.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"MaxSkew", o.MaxSkew}, {"AckWait", o.AckWait}, {"DefaultExpiry", o.DefaultExpiry}, {"MaxExpiry", o.MaxExpiry}, {"ExpiryCheck", o.ExpiryCheck}} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s is %s; give a positive duration or 0 for the default", ErrInvalidOptions, d.name, d.v)
		}
	}
	if o.DefaultExpiry > o.MaxExpiry {
		return fmt.Errorf("%w: DefaultExpiry %s is longer than MaxExpiry %s", ErrInvalidOptions, o.DefaultExpiry, o.MaxExpiry)
	}
	if o.AidRegion != "" && o.Region == "" {
		return fmt.Errorf("%w: AidRegion %q without Region; name the node's region too, or neither on a single cluster", ErrInvalidOptions, o.AidRegion)
	}
	if o.Workers < 0 || o.QueryWorkers < 0 || o.MaxMessageBytes < 0 {
		return fmt.Errorf("%w: Workers, QueryWorkers and MaxMessageBytes must not be negative", ErrInvalidOptions)
	}
	return nil
}

// Deps are what a Service works with.
type Deps struct {
	// JS is a JetStream context on a connection with the service's rights.
	JS jetstream.JetStream
	// Registry is the member registry (its cache answers every lookup).
	Registry *members.Registry
	// Verifier checks envelope signatures against the registry.
	Verifier *envelope.Verifier
	// Signer signs what the service sends itself (rejections, expiries);
	// its member must hold the service role.
	Signer *envelope.Signer
}

// Service is the mutual-aid service. Run it on every node: the nodes share
// one durable consumer and one query queue group, and each runs the expiry
// check from the AID bucket's state, so a node's loss moves its work to the
// others.
type Service struct {
	d    Deps
	opts Options
	log  *zap.Logger

	aid, routed, situation jetstream.KeyValue
	// aidRegion is the region of the AID bucket (Options.AidRegion, found
	// by openAid); "" on a single cluster.
	aidRegion       string
	dir             *directory
	lanes, capTypes map[string]bool

	// beforeCommit, when set (tests), runs after an atomic batch is staged
	// and before its commit; an error abandons the batch there.
	beforeCommit atomic.Pointer[func() error]
}

// New opens the buckets the service needs and makes sure the AID bucket
// takes atomic batches. It does not consume yet: see Run.
func New(ctx context.Context, d Deps, opts Options, log *zap.Logger) (*Service, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if d.JS == nil || d.Registry == nil || d.Verifier == nil || d.Signer == nil {
		return nil, errors.New("mutualaid: the service needs JS, Registry, Verifier and Signer")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Service{d: d, opts: opts, log: log.Named("aid"), lanes: map[string]bool{}, capTypes: map[string]bool{}}
	for _, l := range opts.Vocabulary.Lanes {
		s.lanes[l] = true
	}
	for _, c := range opts.Vocabulary.Capabilities {
		s.capTypes[c] = true
	}
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{records.BucketRouted, &s.routed}, {records.BucketSituation, &s.situation}} {
		b.name = s.bucket(b.name)
		kv, err := d.JS.KeyValue(ctx, b.name)
		if err != nil {
			return nil, fmt.Errorf("mutualaid: open bucket %s: %w; provision the cluster first", b.name, err)
		}
		*b.kv = kv
	}
	octx, cancel := ctx, context.CancelFunc(func() {})
	if opts.Region != "" {
		octx, cancel = context.WithTimeout(ctx, openAidWait)
	}
	err := s.openAid(octx)
	cancel()
	if err != nil {
		if opts.Region == "" {
			return nil, err
		}
		// The AID bucket's region may be away: Run waits for it, so that
		// this region's node starts without it.
		s.log.Warn("the AID bucket is not reachable yet; the service waits for it", zap.Error(err))
	}
	s.dir = newDirectory(s.log)
	return s, nil
}

// openAidWait bounds New's attempt to open the AID bucket of another
// region, which may be away: Run tries again (waitAid).
const openAidWait = 5 * time.Second

// aidStream is the stream behind the AID bucket of a single cluster.
const aidStream = "KV_" + records.BucketAid

// aidBucket names the AID bucket: AID, or AID-<aid region>.
func (s *Service) aidBucket() string { return subjects.RegionStream(records.BucketAid, s.aidRegion) }

// inAid spells a Tocsin subject in the AID bucket's region (the audit
// trail, expiries).
func (s *Service) inAid(subject string) string { return subjects.InRegion(s.aidRegion, subject) }

// in spells a Tocsin subject in the service's region (Options.Region).
func (s *Service) in(subject string) string { return subjects.InRegion(s.opts.Region, subject) }

// bucket names a stream or bucket of the service's region.
func (s *Service) bucket(name string) string { return subjects.RegionStream(name, s.opts.Region) }

// EnableAtomicPublish turns on AllowAtomicPublish on the AID bucket's
// stream (KV_AID) when it is off, and reports whether it changed anything.
// An accept writes the request and the responder's capacity in one atomic
// batch, which the stream must allow. Provisioning the bucket with
// CreateOrUpdateKeyValue turns it off again, so provisioning should call
// this right after.
func EnableAtomicPublish(ctx context.Context, js jetstream.JetStream) (bool, error) {
	return enableAtomicPublish(ctx, js, records.BucketAid)
}

// enableAtomicPublish is EnableAtomicPublish on the AID bucket named bucket
// (a region's: AID-<region>).
func enableAtomicPublish(ctx context.Context, js jetstream.JetStream, bucket string) (bool, error) {
	stream := "KV_" + bucket
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return false, fmt.Errorf("mutualaid: stream %s: %w; provision the cluster first", stream, err)
	}
	cfg := st.CachedInfo().Config
	if cfg.AllowAtomicPublish {
		return false, nil
	}
	cfg.AllowAtomicPublish = true
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return false, fmt.Errorf("mutualaid: allow atomic batches on %s: %w", stream, err)
	}
	return true, nil
}
