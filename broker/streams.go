package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

const day = 24 * time.Hour

// maxMemberConsumers bounds the consumers of a stream members read.
const maxMemberConsumers = 100_000

// IngestDuplicates is INGEST's duplicate window: longer than twice the
// router's default clock-skew bound, see StreamConfigs.
const IngestDuplicates = 15 * time.Minute

// StreamConfigs returns the streams Tocsin needs at the given replica count.
// Every stream is file-backed; MaxMsgSize matches the server's max payload.
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	base := func(name, subject, desc string, maxAge time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{subject},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      maxAge,
			MaxMsgSize:  DefaultMaxPayload,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			Duplicates:  10 * time.Minute,
			AllowDirect: true,
		}
	}
	// INGEST: what members publish, read by the router's shared durable
	// consumer. Limits retention (not work-queue) so an operator can replay
	// and audit; 7 days; discard old. The 15-minute duplicate window
	// (IngestDuplicates) drops a second publish of an id; it is longer than
	// twice the router's clock-skew bound (5 minutes each way), so a copy of
	// an envelope is either dropped here or refused as skewed, and the
	// router need not look an id up before its first delivery. Redeliveries
	// are still checked against records.BucketRouted.
	ingest := base(subjects.StreamIngest, subjects.IngestAll, "messages published by members, before routing", 7*day)
	ingest.AllowDirect = false // members must not read each other's ingest
	ingest.Duplicates = IngestDuplicates
	// SECTORS: routed alerts and advisories per sector and lane. 30 days, so
	// an agent that was away a month catches up; discard old.
	sectors := base(subjects.StreamSectors, subjects.SectorsAll, "routed alerts and advisories by sector and lane", 30*day)
	// INBOX: direct deliveries (RED, AMBER+STRICT, aid notices, sighting
	// summaries). 30 days, discard old.
	inbox := base(subjects.StreamInbox, subjects.InboxAll, "direct deliveries to one member", 30*day)
	// REJECTIONS: why a member's message was refused; the sender reads its
	// own subject. 30 days.
	rejections := base(subjects.StreamRejections, subjects.RejectionAll, "rejections, readable by their sender", 30*day)
	// AID_AUDIT: every signed mutual-aid transition. Kept forever; no delete,
	// no purge: an append-only audit trail.
	aid := base(subjects.StreamAidAudit, subjects.AidAuditAll, "append-only mutual-aid audit trail", 0)
	aid.DenyDelete, aid.DenyPurge = true, true
	// OPS: operator alarms such as a publisher past its flash cap. 30 days.
	ops := base(subjects.StreamOps, subjects.OpsAll, "operator alarms", 30*day)
	// Every member has a consumer per sector on SECTORS and one each on
	// INBOX and REJECTIONS; nats-server allows 1,000 consumers per stream
	// unless the stream sets its own limit.
	for _, st := range []*jetstream.StreamConfig{&sectors, &inbox, &rejections} {
		st.MaxConsumers = maxMemberConsumers
	}
	return []jetstream.StreamConfig{ingest, sectors, inbox, rejections, aid, ops}
}

// KVConfigs returns the key-value buckets Tocsin needs.
func KVConfigs(replicas int) []jetstream.KeyValueConfig {
	kv := func(name, desc string, history uint8, ttl time.Duration) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{
			Bucket:      name,
			Description: desc,
			History:     history,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		}
	}
	return []jetstream.KeyValueConfig{
		kv(records.BucketMembers, "member registry", 16, 0),
		kv(records.BucketRouted, "router outcomes by message id", 1, 90*day),
		kv(records.BucketDedupe, "first alert per indicator pattern", 1, day),
		kv(records.BucketSightings, "organisations that saw an indicator, by sector", 1, 90*day),
		kv(records.BucketReach, "receipts by message and member", 4, 90*day),
		kv(records.BucketAid, "mutual-aid requests, offers and capacity", 16, 0),
		kv(records.BucketSituation, "last status report per facility", 8, 0),
		kv(records.BucketFlash, "flash alerts per publisher and window", 1, 2*time.Hour),
		kv(records.BucketWebTokens, "console and TAXII access tokens (hashed), by member and token id", 1, 0),
		kv(records.BucketTAXIIStatus, "TAXII add-objects requests by member and envelope id, for their status", 1, 7*day),
		kv(records.BucketDeadLetter, "messages of INGEST a service could not decide after its retries, by consumer and sequence", 1, 0),
		kv(records.BucketSites, "member sites' links as the hub saw them (last contact), by member", 1, 0),
	}
}

// Provision creates or updates every stream and bucket. It is idempotent:
// running it again on a provisioned cluster changes nothing.
func Provision(ctx context.Context, js jetstream.JetStream, replicas int) error {
	return ProvisionIn(ctx, js, replicas, "")
}

// ProvisionIn is Provision with every stream and bucket placed in the
// cluster named region: a supercluster's streams region (GatewayOptions,
// docs/REGIONS.md). "" lets JetStream place them in the cluster of the
// server that asks, as on a single cluster.
func ProvisionIn(ctx context.Context, js jetstream.JetStream, replicas int, region string) error {
	var placement *jetstream.Placement
	if region != "" {
		placement = &jetstream.Placement{Cluster: region}
	}
	for _, cfg := range StreamConfigs(replicas) {
		cfg.Placement = placement
		if err := withCallTimeout(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("provision stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range KVConfigs(replicas) {
		cfg.Placement = placement
		if err := withCallTimeout(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("provision bucket %s: %w", cfg.Bucket, err)
		}
	}
	// An aid accept writes the request and the responder's capacity in one
	// atomic batch, and the router a routed alert's dedupe claims, index
	// and outcome in another: the buckets' streams must allow them;
	// updating the KV config turns it off, so it is turned on again right
	// after.
	for _, b := range []string{records.BucketAid, records.BucketRouted} {
		if err := allowAtomicPublish(ctx, js, "KV_"+b); err != nil {
			return err
		}
	}
	return nil
}

// allowAtomicPublish turns on atomic batch publishing on a stream.
func allowAtomicPublish(ctx context.Context, js jetstream.JetStream, stream string) error {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("provision stream %s: %w", stream, err)
	}
	cfg := st.CachedInfo().Config
	if cfg.AllowAtomicPublish {
		return nil
	}
	cfg.AllowAtomicPublish = true
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("allow atomic batches on %s: %w", stream, err)
	}
	return nil
}

// StreamNames lists every stream Provision creates, KV buckets included
// (as their KV_<bucket> streams).
func StreamNames() []string {
	var names []string
	for _, c := range StreamConfigs(1) {
		names = append(names, c.Name)
	}
	for _, c := range KVConfigs(1) {
		names = append(names, "KV_"+c.Bucket)
	}
	return names
}

// CheckProvisioned reports the first stream or bucket that is missing or
// has the wrong replica count; nil when Provision has nothing left to do.
func CheckProvisioned(ctx context.Context, js jetstream.JetStream, replicas int) error {
	return CheckProvisionedIn(ctx, js, replicas, "")
}

// CheckProvisionedIn is CheckProvisioned for ProvisionIn: with a region,
// each stream must also be placed in it.
func CheckProvisionedIn(ctx context.Context, js jetstream.JetStream, replicas int, region string) error {
	return checkStreams(ctx, js, StreamNames(), replicas, region)
}

// checkStreams reports the first of the named streams that is missing, has
// other than replicas replicas, or (with a region) is placed elsewhere.
func checkStreams(ctx context.Context, js jetstream.JetStream, names []string, replicas int, region string) error {
	for _, name := range names {
		var r int
		var in string
		err := withCallTimeout(ctx, func(ctx context.Context) error {
			s, err := js.Stream(ctx, name)
			if err == nil {
				r = s.CachedInfo().Config.Replicas
				if cl := s.CachedInfo().Cluster; cl != nil {
					in = cl.Name
				}
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		if r != replicas {
			return fmt.Errorf("stream %s has %d replicas, want %d", name, r, replicas)
		}
		if region != "" && in != region {
			return fmt.Errorf("stream %s is in region %q, want it in region %q", name, in, region)
		}
	}
	return nil
}

// CallTimeout bounds one JetStream API call made while provisioning: each
// call gets its own, so that slow routes (a cluster across a continent)
// slow provisioning down without making every attempt fail.
const CallTimeout = 5 * time.Second

func withCallTimeout(ctx context.Context, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	return f(cctx)
}
