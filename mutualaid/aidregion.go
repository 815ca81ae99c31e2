package mutualaid

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/records"
)

// Mutual aid across regions (docs/REGIONS.md). On a supercluster whose
// regions each hold a stream set, a member's aid messages are ingested and
// handled in its home region, and their outcomes, inbox copies and
// rejections stay there; but the state they change, requests, offers and
// responders' capacity, is one AID bucket, AID-<aid region>, which every
// region's services read and write through the gateways. An accept books
// the responder's units with the request in one atomic batch, and an
// atomic batch is one stream's: a west hospital's request and an east
// responder's capacity must be in the same bucket, or two regions could
// book the same units. The audit trail of every request is that region's
// AID_AUDIT-<aid region>, and expiries go to its ingest.

// openAid finds the AID bucket's region (Options.AidRegion, or the
// registry's) and opens the bucket, making sure it takes atomic batches.
func (s *Service) openAid(ctx context.Context) error {
	region, err := s.findAidRegion(ctx)
	if err != nil {
		return err
	}
	s.aidRegion = region
	kv, err := s.d.JS.KeyValue(ctx, s.aidBucket())
	if err != nil {
		return fmt.Errorf("mutualaid: open bucket %s: %w; provision the cluster first", s.aidBucket(), err)
	}
	changed, err := enableAtomicPublish(ctx, s.d.JS, s.aidBucket())
	if err != nil {
		return err
	}
	if changed {
		s.log.Warn("enabled atomic batch publish on the AID bucket's stream; broker.Provision should set it so that provisioning does not turn it off",
			zap.String("bucket", s.aidBucket()))
	}
	s.aid = kv
	return nil
}

// findAidRegion is Options.AidRegion; by default, on a region's set, the
// region that holds the registry: the cluster the MEMBERS bucket's stream
// is placed in (broker.RegionSet places it in its RegistryRegion), or, with
// no placement, the cluster it is in.
func (s *Service) findAidRegion(ctx context.Context) (string, error) {
	if s.opts.Region == "" || s.opts.AidRegion != "" {
		return s.opts.AidRegion, nil
	}
	stream := "KV_" + records.BucketMembers
	st, err := s.d.JS.Stream(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("mutualaid: find the registry's region, which holds the AID bucket: stream %s: %w", stream, err)
	}
	info := st.CachedInfo()
	if p := info.Config.Placement; p != nil && p.Cluster != "" {
		return p.Cluster, nil
	}
	if info.Cluster != nil && info.Cluster.Name != "" {
		return info.Cluster.Name, nil
	}
	return s.opts.Region, nil
}

// waitAid opens the AID bucket if New could not, trying every few seconds
// until ctx ends; false when it ended first.
func (s *Service) waitAid(ctx context.Context) bool {
	for wait := time.Second; s.aid == nil; wait = min(2*wait, 30*time.Second) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.openAid(actx)
		cancel()
		if err != nil {
			s.log.Warn("the AID bucket is not reachable yet; trying again", zap.Duration("in", min(2*wait, 30*time.Second)), zap.Error(err))
		}
	}
	return true
}
