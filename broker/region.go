package broker

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// RegionSet is one region's stream set in a supercluster whose every region
// (witnesses aside) holds its own streams and buckets, so that losing a
// region costs only that region (docs/REGIONS.md): each of Provision's
// streams and buckets named for the region (subjects.RegionStream), on the
// region's subjects (subjects.InRegion), placed in the region; its copies
// streams (subjects.CopiesStreams) source every other region's, filtered to
// that region's own subjects so nothing comes back where it came from; the
// registry written in RegistryRegion and mirrored read-only into the others.
type RegionSet struct {
	// Region is the region whose set this is: its cluster name. Required,
	// one of Regions.
	Region string
	// Regions are every region that holds a stream set, Region among them;
	// a witness, which holds no stream, is not one. Required, two or more.
	Regions []string
	// RegistryRegion holds the registry, the MEMBERS bucket, written there
	// only; every other region holds MEMBERS-<region>, a read-only mirror of
	// it (RegistryBucket). Required, one of Regions.
	RegistryRegion string
	// Replicas is every stream's replica count, all in Region. Default 3.
	Replicas int
}

func (s RegionSet) withDefaults() RegionSet {
	if s.Replicas == 0 {
		s.Replicas = 3
	}
	return s
}

func (s RegionSet) validate() error {
	bad := func(format string, v ...any) error {
		return fmt.Errorf("%w: region stream set: %s", ErrInvalidOptions, fmt.Sprintf(format, v...))
	}
	switch {
	case len(s.Regions) < 2:
		return bad("%d regions %v; a stream set per region needs two regions or more", len(s.Regions), s.Regions)
	case !slices.Contains(s.Regions, s.Region):
		return bad("region %q is not one of the regions with streams %v", s.Region, s.Regions)
	case !slices.Contains(s.Regions, s.RegistryRegion):
		return bad("the registry's region %q is not one of the regions with streams %v", s.RegistryRegion, s.Regions)
	case s.Replicas < 1:
		return bad("%d replicas; use 1 or more", s.Replicas)
	}
	for _, r := range s.Regions {
		if !nameRE.MatchString(r) {
			return bad("%q is not a valid region name; use letters, digits, '-' or '_'", r)
		}
	}
	return nil
}

// RegistryBucket is the bucket a node of Region reads the registry from:
// MEMBERS in the registry's region, its mirror MEMBERS-<region> elsewhere.
func (s RegionSet) RegistryBucket() string {
	if s.Region == s.RegistryRegion {
		return records.BucketMembers
	}
	return subjects.RegionStream(records.BucketMembers, s.Region)
}

// StreamConfigs are the region's streams: StreamConfigs' streams renamed,
// on the region's subjects, placed in it, its copies streams sourcing the
// other regions'. The registry's mirror, outside the registry's region, is
// among them (a bucket read by its own name, written to the registry).
func (s RegionSet) StreamConfigs() []jetstream.StreamConfig {
	s = s.withDefaults()
	place := &jetstream.Placement{Cluster: s.Region}
	var out []jetstream.StreamConfig
	for _, cfg := range StreamConfigs(s.Replicas) {
		name, plain := cfg.Name, cfg.Subjects
		cfg.Name = subjects.RegionStream(name, s.Region)
		cfg.Subjects = nil
		for _, subj := range plain {
			cfg.Subjects = append(cfg.Subjects, subjects.InRegion(s.Region, subj))
		}
		cfg.Placement = place
		if slices.Contains(subjects.CopiesStreams, name) {
			for _, o := range s.Regions {
				// Only o's own copies (its captured subjects): o's stream
				// also holds what it sourced, which must not come back.
				for _, subj := range plain {
					if o != s.Region {
						cfg.Sources = append(cfg.Sources, &jetstream.StreamSource{Name: subjects.RegionStream(name, o), FilterSubject: subjects.InRegion(o, subj)})
					}
				}
			}
		}
		out = append(out, cfg)
	}
	if s.Region != s.RegistryRegion {
		out = append(out, s.registryMirror())
	}
	return out
}

// registryMirror is MEMBERS-<region>: a mirror of KV_MEMBERS whose keys are
// rewritten to its own bucket's subjects, so that nats.go reads it as the
// bucket MEMBERS-<region> and writes through it to MEMBERS (the mirror
// refuses nothing itself: a write goes to the registry's region or fails
// when that region is away). nats-server gives it mirror_direct (every
// mirror of an origin with direct gets has it), so in its region it
// answers the registry's own direct gets, finding nothing under the
// registry's subjects: the registry's List checks what it read against
// the leader (kvread.LatestConsistent), and single reads go to the leader.
func (s RegionSet) registryMirror() jetstream.StreamConfig {
	var members jetstream.KeyValueConfig
	for _, kv := range KVConfigs(s.Replicas) {
		if kv.Bucket == records.BucketMembers {
			members = kv
		}
	}
	bucket := s.RegistryBucket()
	return jetstream.StreamConfig{
		Name:              "KV_" + bucket,
		Description:       "read-only mirror of the member registry (" + records.BucketMembers + " in region " + s.RegistryRegion + ")",
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: int64(members.History),
		Discard:           jetstream.DiscardOld, // a mirror must take what its origin took
		Storage:           jetstream.FileStorage,
		Replicas:          s.Replicas,
		Placement:         &jetstream.Placement{Cluster: s.Region},
		AllowRollup:       true,
		DenyDelete:        true,
		AllowDirect:       true,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Mirror: &jetstream.StreamSource{Name: "KV_" + records.BucketMembers, SubjectTransforms: []jetstream.SubjectTransformConfig{{
			Source: records.KeyPrefix(records.BucketMembers) + ">", Destination: records.KeyPrefix(bucket) + ">",
		}}},
	}
}

// KVConfigs are the region's buckets: KVConfigs' buckets renamed for the
// region and placed in it; MEMBERS only in the registry's region.
func (s RegionSet) KVConfigs() []jetstream.KeyValueConfig {
	s = s.withDefaults()
	var out []jetstream.KeyValueConfig
	for _, cfg := range KVConfigs(s.Replicas) {
		if cfg.Bucket == records.BucketMembers {
			if s.Region != s.RegistryRegion {
				continue // its mirror is among StreamConfigs
			}
		} else {
			cfg.Bucket = subjects.RegionStream(cfg.Bucket, s.Region)
		}
		cfg.Placement = &jetstream.Placement{Cluster: s.Region}
		out = append(out, cfg)
	}
	return out
}

// StreamNames lists every stream of the region's set, buckets as their
// KV_<bucket> streams.
func (s RegionSet) StreamNames() []string {
	var names []string
	for _, c := range s.StreamConfigs() {
		names = append(names, c.Name)
	}
	for _, c := range s.KVConfigs() {
		names = append(names, "KV_"+c.Bucket)
	}
	return names
}

// ProvisionRegion creates or updates region set s's streams and buckets,
// from a connection to any region; like Provision it is idempotent. Each
// region's set is provisioned on its own (a node provisions its region's),
// and a source or mirror whose origin is missing or away waits for it.
func ProvisionRegion(ctx context.Context, js jetstream.JetStream, s RegionSet) error {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return err
	}
	for _, cfg := range s.StreamConfigs() {
		if err := withCallTimeout(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("provision stream %s in region %s: %w", cfg.Name, s.Region, err)
		}
	}
	for _, cfg := range s.KVConfigs() {
		if err := withCallTimeout(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("provision bucket %s in region %s: %w", cfg.Bucket, s.Region, err)
		}
	}
	for _, b := range []string{records.BucketAid, records.BucketRouted} {
		if err := allowAtomicPublish(ctx, js, "KV_"+subjects.RegionStream(b, s.Region)); err != nil {
			return err
		}
	}
	return nil
}

// CheckProvisionedRegion reports the first stream of region set s that is
// missing, has the wrong replica count or is placed outside its region;
// nil when ProvisionRegion has nothing left to do.
func CheckProvisionedRegion(ctx context.Context, js jetstream.JetStream, s RegionSet) error {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return err
	}
	return checkStreams(ctx, js, s.StreamNames(), s.Replicas, s.Region)
}
