package mutualaid

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// The situation board across regions. A status report is kept by the
// router of the region that took it, in its SITUATION-<region>: a
// member's last report is in its home region's bucket. So a board is
// every region's reports of the (member) region asked for, merged; a
// stream-set region that is away is named in Board.Unreachable, its
// facilities missing, instead of the whole board failing.

// boardRegionWait bounds the read of one region's reports, so that a
// region that is away leaves time to answer with the others' (Ask's first
// attempt waits 2 s, its second 4 s).
const boardRegionWait = 3 * time.Second

// situationBucket is one region's SITUATION bucket.
type situationBucket struct {
	region string // "" on a single cluster
	kv     jetstream.KeyValue
}

// boardRead is what one region's bucket gave.
type boardRead struct {
	region, bucket string
	rows           []Facility
	err            error
}

// situationBuckets are the buckets a board is read from: the service's
// own; on a region's set, every region's SITUATION-<region>, found from
// the streams the cluster has (a region added later is read as soon as
// its set is provisioned).
func (s *Service) situationBuckets(ctx context.Context) ([]situationBucket, error) {
	own := situationBucket{region: s.opts.Region, kv: s.situation}
	if s.opts.Region == "" {
		return []situationBucket{own}, nil
	}
	prefix := "KV_" + records.BucketSituation + "-"
	names := s.d.JS.StreamNames(ctx)
	var regions []string
	for n := range names.Name() {
		if r, ok := strings.CutPrefix(n, prefix); ok && r != s.opts.Region {
			regions = append(regions, r)
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("list the regions' SITUATION buckets: %w", err)
	}
	slices.Sort(regions)
	out := []situationBucket{own}
	for _, r := range regions {
		out = append(out, situationBucket{region: r})
	}
	return out, nil
}

// readBoards reads region's reports from every bucket at once, each
// within boardRegionWait.
func (s *Service) readBoards(ctx context.Context, boards []situationBucket, region string) []boardRead {
	out := make([]boardRead, len(boards))
	var wg sync.WaitGroup
	for i, b := range boards {
		out[i] = boardRead{region: b.region, bucket: subjects.RegionStream(records.BucketSituation, b.region)}
		wg.Go(func() {
			wait := queryTimeout // one bucket: nothing else to answer with
			if len(boards) > 1 {
				wait = boardRegionWait
			}
			rctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			kv := b.kv
			if kv == nil {
				var err error
				if kv, err = s.d.JS.KeyValue(rctx, out[i].bucket); err != nil {
					out[i].err = fmt.Errorf("open %s: %w", out[i].bucket, err)
					return
				}
			}
			out[i].rows, out[i].err = s.readBoard(rctx, kv, region)
		})
	}
	wg.Wait()
	return out
}
