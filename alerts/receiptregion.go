package alerts

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// regionRecords are the records a receipt is filed in: those of the
// region whose router routed the messages it covers. In a supercluster of
// stream sets (docs/REGIONS.md) a member reads every region's copies from
// its home region and its receipts are ingested there, but a message's
// outcome and REACH sets are in the buckets of the region that routed it
// (ROUTED-<region>, REACH-<region>, SIGHTINGS-<region>), where its
// sender's reach is read. The receipt names that region (ref_region); the
// router taking it writes there, across the gateway, with the same
// compare-and-set as its own region's routers.
type regionRecords struct {
	region                   string
	routedBucket             string
	routed, reach, sightings jetstream.KeyValue
	batch                    *reachBatcher
	cache                    *routedCache
}

// otherRegions are the records of other regions a router has filed
// receipts in, by region.
type otherRegions struct {
	mu sync.Mutex
	m  map[string]*regionRecords
	// names are the other regions with a ROUTED bucket, listed once
	// (otherRegionsWithRecords): a stream set is fixed by the nodes'
	// config, so it is not listed again for every receipt that names no
	// region.
	names []string
}

// regionNameRE is what a receipt's ref_region must look like: a region's
// gateway cluster name.
var regionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// localRecords are the router's own region's records.
func (r *Router) localRecords() *regionRecords {
	return &regionRecords{region: r.opts.Region, routedBucket: r.bucket(records.BucketRouted),
		routed: r.routed, reach: r.reach, sightings: r.sightings, batch: r.reachBatch, cache: &r.routedMsgs}
}

// recordsOf are the records receipt rc is filed in: the router's own for
// no ref_region or its own region; else that region's, opened once (a
// failure to open is tried again with the next receipt: the region may be
// away). A region with no records in this cluster refuses the receipt.
func (r *Router) recordsOf(ctx context.Context, rc *tocsinv1.Receipt) (*regionRecords, error) {
	region := rc.GetRefRegion()
	if region == "" || region == r.opts.Region {
		return r.localRecords(), nil
	}
	if !regionNameRE.MatchString(region) {
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "ref_region %q is not a region name (its gateway cluster name: letters, digits, '-', '_'); leave it empty for this region's messages", region)
	}
	o := &r.others
	o.mu.Lock()
	rr := o.m[region]
	o.mu.Unlock()
	if rr != nil {
		return rr, nil
	}
	rr = &regionRecords{region: region, routedBucket: subjects.RegionStream(records.BucketRouted, region), cache: &routedCache{}}
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{records.BucketRouted, &rr.routed}, {records.BucketReach, &rr.reach}, {records.BucketSightings, &rr.sightings}} {
		name := subjects.RegionStream(b.name, region)
		kv, err := r.d.JS.KeyValue(ctx, name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "ref_region %q: this cluster has no region %q (no bucket %s); name the region of the copy's subject (tocsin.r.<region>.…)", region, region, name)
		}
		if err != nil {
			return nil, fmt.Errorf("open region %s's bucket %s: %w", region, name, err)
		}
		*b.kv = kv
	}
	rr.batch = newReachBatcher(rr.reach, rr.sightings, r.opts.ReachWindow, r.writer)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]*regionRecords{}
	}
	if had := o.m[region]; had != nil {
		return had, nil
	}
	o.m[region] = rr
	return rr, nil
}

// outcome is the outcome of sender's message id in rr's region.
func (rr *regionRecords) outcome(ctx context.Context, sender, id string) (*tocsinv1.Outcome, error) {
	return records.GetOutcome(ctx, rr.routed, sender, id)
}
