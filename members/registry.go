package members

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tocsin-project/tocsin/internal/kvread"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Registry keeps the member records in the cluster's MEMBERS bucket (key:
// member id; value: a protobuf-encoded tocsinv1.Member) and an in-process
// copy of every record that a KV watcher keeps current. It is safe for
// concurrent use. Records are never deleted: a member leaves by revocation.
type Registry struct {
	js jetstream.JetStream
	kv jetstream.KeyValue
	// bucket is the bucket read: MEMBERS, or a region's mirror of it.
	bucket string
	vocab  Vocabulary
	log    *zap.Logger

	mu    sync.RWMutex
	cache map[string]cached
	// gen counts the changes made to cache (under mu).
	gen uint64
	// rev is the highest revision of the bucket the cache has applied,
	// deletedRev that of the last delete or purge (under mu).
	rev, deletedRev uint64
	// sectors keeps IDsInSectors's answers for the current gen.
	sectors sectorMemo
	// live is true while the watcher runs; when it stops, lookups go to
	// the bucket rather than trust a copy nobody updates any more.
	live atomic.Bool
	// closing is set by Close, so the watcher's end is not an alarm.
	closing atomic.Bool

	stop      context.CancelFunc
	watcher   jetstream.KeyWatcher
	done      chan struct{}
	closeOnce sync.Once
}

// cached is a record as the watcher last saw it.
type cached struct {
	m   *tocsinv1.Member
	rev uint64
}

// Open returns a Registry over the MEMBERS bucket of js (created by
// broker.Provision), checking records against vocab (its empty lists
// meaning the defaults). It returns once the cache holds every record;
// ctx bounds that wait, not the Registry's life: call Close to stop the
// watcher. A nil log logs nothing.
func Open(ctx context.Context, js jetstream.JetStream, vocab Vocabulary, log *zap.Logger) (*Registry, error) {
	return OpenBucket(ctx, js, records.BucketMembers, vocab, log)
}

// OpenBucket is Open over the registry as bucket holds it: MEMBERS, or in
// a supercluster of stream sets outside the registry's region that
// region's mirror of it, MEMBERS-<region> (broker.RegionSet.RegistryBucket):
// read there, written through it to MEMBERS (docs/REGIONS.md).
func OpenBucket(ctx context.Context, js jetstream.JetStream, bucket string, vocab Vocabulary, log *zap.Logger) (*Registry, error) {
	r, err := bind(ctx, js, bucket, vocab, log)
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w, err := r.kv.WatchAll(wctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("watch the member registry: %w", err)
	}
	r.stop, r.watcher, r.done = stop, w, make(chan struct{})
	loaded := make(chan struct{})
	r.live.Store(true)
	go r.watch(w, loaded)
	select {
	case <-loaded:
		return r, nil
	case <-r.done:
		r.Close()
		return nil, errors.New("load the member registry: the watcher stopped before the initial records arrived; check the connection")
	case <-ctx.Done():
		r.Close()
		return nil, fmt.Errorf("load the member registry: %w", ctx.Err())
	}
}

// OpenUncached returns a Registry over the MEMBERS bucket of js that keeps
// no copy: every lookup reads the bucket, and List pages through it by
// batch direct get. It needs no consumer, so it works with an admin's
// rights (which include no consumer create); Open needs a service's.
func OpenUncached(ctx context.Context, js jetstream.JetStream, vocab Vocabulary, log *zap.Logger) (*Registry, error) {
	r, err := bind(ctx, js, records.BucketMembers, vocab, log)
	if err != nil {
		return nil, err
	}
	r.stop, r.done = func() {}, make(chan struct{})
	close(r.done)
	return r, nil
}

// bind is a Registry over bucket (MEMBERS or its mirror) of js, without
// its watcher.
func bind(ctx context.Context, js jetstream.JetStream, bucket string, vocab Vocabulary, log *zap.Logger) (*Registry, error) {
	if log == nil {
		log = zap.NewNop()
	}
	vocab = vocab.WithDefaults()
	if err := vocab.Validate(); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("open the member registry (bucket %s): %w: no node holding it answered; on a stream set per region it is held in the registry's region only (gateway.registry_region), and admissions, revocations and home-region moves wait until that region is back", bucket, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open the member registry (bucket %s): %w; provision the cluster first", bucket, err)
	}
	return &Registry{js: js, kv: kv, bucket: bucket, vocab: vocab, log: log, cache: map[string]cached{}}, nil
}

// Close stops the watcher. Lookups still work afterwards, through the
// bucket. Close is idempotent.
func (r *Registry) Close() {
	r.closeOnce.Do(func() {
		r.closing.Store(true)
		r.live.Store(false)
		r.stop()
		if r.watcher != nil {
			_ = r.watcher.Stop()
		}
		<-r.done
	})
}

// Add registers a new member. The record is validated; created_at is set to
// now when unset. An id already registered gives an error wrapping ErrExists.
func (r *Registry) Add(ctx context.Context, m *tocsinv1.Member) error {
	_, err := r.add(ctx, m)
	return err
}

// add is Add, returning the record as stored.
func (r *Registry) add(ctx context.Context, m *tocsinv1.Member) (*tocsinv1.Member, error) {
	if err := Validate(m, r.vocab); err != nil {
		return nil, err
	}
	m = proto.CloneOf(m)
	if m.CreatedAt == nil {
		m.CreatedAt = timestamppb.Now()
	}
	data, err := encode(m)
	if err != nil {
		return nil, err
	}
	if _, err := r.kv.Create(ctx, m.Id, data); errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("member %q: %w; change the record with Update", m.Id, ErrExists)
	} else if err != nil {
		return nil, fmt.Errorf("add member %q: %w", m.Id, err)
	}
	r.log.Info("member added", zap.String("member", m.Id), zap.Strings("sectors", m.Sectors))
	return m, nil
}

// Get reads member id from the bucket (not the cache), as the stream leader
// has it, so it sees every acknowledged write. An id no member has gives an
// error wrapping ErrNotFound.
func (r *Registry) Get(ctx context.Context, id string) (*tocsinv1.Member, error) {
	m, _, err := r.get(ctx, id)
	return m, err
}

// get reads member id and the revision of its record, from the stream
// leader (see readLatest).
func (r *Registry) get(ctx context.Context, id string) (*tocsinv1.Member, uint64, error) {
	if !isToken(id) {
		return nil, 0, fmt.Errorf("member %q: %w: not a member id (%s)", id, ErrNotFound, tokenRule)
	}
	data, rev, ok, err := r.readLatest(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("member %q: %w: check the id, or register the member", id, ErrNotFound)
	}
	m, err := decode(id, data)
	if err != nil {
		return nil, 0, err
	}
	return m, rev, nil
}

// List reads every member from the bucket, sorted by id, by batch direct
// get (no consumer), checked against the stream leader's last sequence
// (kvread.LatestConsistent): a replica a moment behind, or another
// region's mirror of the registry (which answers the registry's direct
// gets in its region), would leave members out.
func (r *Registry) List(ctx context.Context) ([]*tocsinv1.Member, error) {
	entries, err := kvread.LatestConsistent(ctx, r.js, r.bucket)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	out := make([]*tocsinv1.Member, 0, len(entries))
	for _, e := range entries {
		m, err := decode(e.Key, e.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sortByID(out)
	return out, nil
}

// Seed adds each of members not yet registered and leaves registered ones
// untouched, so running it again changes nothing. Every record is validated
// before any is written. It returns the records it added, as stored.
func (r *Registry) Seed(ctx context.Context, members []*tocsinv1.Member) ([]*tocsinv1.Member, error) {
	var errs []error
	ids := map[string]bool{}
	for _, m := range members {
		errs = append(errs, validate(m, r.vocab)...)
		if m != nil && ids[m.Id] {
			errs = append(errs, quiet(ErrInvalid, "%s: listed twice in the seed; list each member once", who(m)))
		}
		ids[m.GetId()] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var added []*tocsinv1.Member
	for _, m := range members {
		stored, err := r.add(ctx, m)
		if errors.Is(err, ErrExists) {
			continue
		}
		if err != nil {
			return added, fmt.Errorf("seed the member registry: %w", err)
		}
		added = append(added, stored)
	}
	r.log.Info("member registry seeded", zap.Int("added", len(added)), zap.Int("already", len(members)-len(added)))
	return added, nil
}

// encode marshals m deterministically.
func encode(m *tocsinv1.Member) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode member %q: %w", m.Id, err)
	}
	return data, nil
}

// decode unmarshals the record stored under key, which must carry that id.
func decode(key string, data []byte) (*tocsinv1.Member, error) {
	m := &tocsinv1.Member{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("member %q: the stored record does not decode: %w", key, err)
	}
	if m.Id != key {
		return nil, fmt.Errorf("member %q: the stored record carries id %q; repair the record", key, m.Id)
	}
	return m, nil
}
