package alerts

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// routeAdvisory broadcasts a liaison's advisory, or a vendor's CSAF
// advisory under its own publisher namespace (permitAdvisory), to the
// named sectors (all when none). Advisories are CLEAR, GREEN or AMBER:
// they address sectors, not individual organisations. A CSAF advisory's
// outcome carries the problems it was routed with as warnings.
func (r *Router) routeAdvisory(ctx context.Context, m jetstream.Msg, env *tocsinv1.Envelope, member *tocsinv1.Member, a *tocsinv1.Advisory) error {
	if err := permitAdvisory(member, a); err != nil {
		return err
	}
	lane, err := r.checkLane(a.GetLane())
	if err != nil {
		return err
	}
	level, err := tlp.FromProto(a.GetTlp())
	if err != nil {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP, "%v", err)
	}
	if err := r.checkSectors(a.GetSectors()); err != nil {
		return err
	}
	if len(a.GetStixBundle()) > 0 {
		res, err := r.validateBundle(a.GetStixBundle())
		if err != nil {
			return err
		}
		level = tlp.Max(level, res.TLP)
	}
	var checked csafResult
	if len(a.GetCsafDocument()) > 0 {
		if checked, err = r.validateCSAF(a.GetCsafDocument(), level); err != nil {
			return err
		}
		level = checked.level
	}
	if !level.AllowsSectorSubjects() {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_TLP_NEEDS_RECIPIENTS, "an advisory is %s, but advisories go to sectors: use clear, green or amber (send %s material as an alert to named recipients)", level, level)
	}
	if err := tlp.CheckAddressing(level, a.GetSectors(), nil); err != nil {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_TLP_NEEDS_RECIPIENTS, "%v", err)
	}
	d := r.destinationsFor(ctx, level, a.GetSectors(), nil)
	if err := r.checkCopiesFit(m.Data(), env.GetId(), "advisory", lane, level, d); err != nil {
		return err
	}
	if len(a.GetCsafDocument()) > 0 {
		if err := r.openAffected(ctx, member, env.GetId(), d.sectors); err != nil {
			return err
		}
	}
	o := r.outcomeRecord(env.GetId(), level, d)
	checked.addTo(o)
	if err := r.putOutcome(ctx, env.GetSender(), o); err != nil {
		return err
	}
	return r.sendCopies(ctx, m.Data(), env, "advisory", lane, level, d)
}
