package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// otherRegionWait bounds the look into one other region's ROUTED for an
// acknowledgement that names no region: a region that is away is passed
// over, not waited for.
const otherRegionWait = 3 * time.Second

// addressedIn checks that the messages of an acknowledgement (refs) were
// routed to member, and returns the records it is filed in. A receipt
// that names its region (ref_region) is checked there only (rr). One that
// names none, on a region's set, is checked in the router's own region
// first and, when none of its messages is there, in each other region
// with a ROUTED-<region> bucket, by name: `tocsin ack` without --region
// works for a copy routed in any region. A receipt whose messages are in
// no region, or in several, is refused, naming the regions looked in and
// those that could not be read.
func (r *Router) addressedIn(ctx context.Context, rr *regionRecords, member *tocsinv1.Member, rc *tocsinv1.Receipt, refs []string) (*regionRecords, error) {
	err := r.checkAddressed(ctx, rr, member, rc.GetRefSender(), refs)
	if err == nil || rc.GetRefRegion() != "" || r.opts.Region == "" || !unknownReference(err) {
		return rr, err
	}
	regions, lerr := r.otherRegionsWithRecords(ctx)
	if lerr != nil {
		return nil, lerr // transient: the receipt is tried again
	}
	var away []string
	for _, region := range regions {
		octx, cancel := context.WithTimeout(ctx, otherRegionWait)
		other, oerr := r.recordsOf(octx, &tocsinv1.Receipt{RefRegion: region})
		if oerr == nil {
			oerr = r.checkAddressed(octx, other, member, rc.GetRefSender(), refs)
		}
		cancel()
		if oerr == nil {
			return other, nil
		}
		if !unknownReference(oerr) {
			away = append(away, region)
		}
	}
	if len(regions) == 0 {
		return nil, err
	}
	var rj reject
	errors.As(err, &rj)
	looked := append([]string{r.opts.Region}, slices.DeleteFunc(slices.Clone(regions), func(s string) bool { return slices.Contains(away, s) })...)
	msg := fmt.Sprintf("%v (looked in region %s)", rj.err, strings.Join(looked, ", "))
	if len(away) > 0 {
		msg += fmt.Sprintf("; region %s could not be read (away?): if the copy was routed there, name it (tocsin ack --region)", strings.Join(away, ", "))
	}
	return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "%s", msg)
}

// unknownReference reports whether err is a refusal of a message that was
// never routed to the member (checkAddressed).
func unknownReference(err error) bool {
	var rj reject
	var ce *codes.Error
	return errors.As(err, &rj) && errors.As(rj.err, &ce) && ce.Code == tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE
}

// otherRegionsWithRecords are the regions, other than the router's, whose
// ROUTED-<region> bucket the cluster has, sorted: listed from the
// cluster's streams the first time any is found, then kept.
func (r *Router) otherRegionsWithRecords(ctx context.Context) ([]string, error) {
	r.others.mu.Lock()
	known := r.others.names
	r.others.mu.Unlock()
	if known != nil {
		return known, nil
	}
	prefix := "KV_" + records.BucketRouted + "-"
	names := r.d.JS.StreamNames(ctx)
	var out []string
	for n := range names.Name() {
		if region, ok := strings.CutPrefix(n, prefix); ok && region != r.opts.Region && regionNameRE.MatchString(region) {
			out = append(out, region)
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("list the regions' ROUTED buckets: %w", err)
	}
	slices.Sort(out)
	if len(out) > 0 {
		r.others.mu.Lock()
		r.others.names = out
		r.others.mu.Unlock()
	}
	return out, nil
}
