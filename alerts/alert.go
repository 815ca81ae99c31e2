package alerts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// canAlert reports whether m may publish alerts: members, responders and
// the liaison (DESIGN.md's role table).
func canAlert(m *tocsinv1.Member) bool {
	return members.HasRole(m, tocsinv1.Role_ROLE_MEMBER) || members.HasRole(m, tocsinv1.Role_ROLE_RESPONDER) ||
		members.HasRole(m, tocsinv1.Role_ROLE_LIAISON)
}

// routeAlert validates an alert, enforces TLP, deduplicates it and fans it
// out.
func (r *Router) routeAlert(ctx context.Context, m jetstream.Msg, env *tocsinv1.Envelope, member *tocsinv1.Member, a *tocsinv1.Alert) error {
	if !canAlert(member) {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED, "member %q has no role that may publish alerts", member.GetId())
	}
	lane, err := r.checkLane(a.GetLane())
	if err != nil {
		return err
	}
	own, err := tlp.FromProto(a.GetTlp())
	if err != nil {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP, "%v", err)
	}
	if err := r.checkSectors(a.GetSectors()); err != nil {
		return err
	}
	if err := r.checkRecipients(ctx, a.GetRecipients()); err != nil {
		return err
	}
	var orig *tocsinv1.Outcome
	if a.GetAmends() != "" {
		if orig, err = r.amendTarget(ctx, env.GetSender(), a.GetAmends()); err != nil {
			return err
		}
	}
	var res *stix.Result
	switch {
	case len(a.GetStixBundle()) > 0:
		if res, err = r.validateBundle(a.GetStixBundle()); err != nil {
			return err
		}
	case !a.GetRevoked():
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_BUNDLE, "an alert carries a STIX 2.1 bundle; attach one (tocsin alert publish --file bundle.json)")
	}
	if a.GetRevoked() {
		if err := r.checkRevocation(ctx, env.GetSender(), a, res); err != nil {
			return err
		}
	}
	level := own
	if res != nil {
		level = tlp.Max(own, res.TLP)
	}
	var d destinations
	if orig != nil {
		// An amendment or revocation reaches everyone the alert reached.
		d = destinations{sectors: orig.GetSectors(), inboxes: orig.GetRecipients()}
		if o, err := tlp.FromProto(orig.GetTlp()); err == nil {
			level = tlp.Max(level, o)
		}
	} else {
		if err := tlp.CheckAddressing(level, a.GetSectors(), a.GetRecipients()); err != nil {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_TLP_NEEDS_RECIPIENTS, "%v", err)
		}
		d = r.destinationsFor(ctx, level, a.GetSectors(), a.GetRecipients())
	}
	if lane == "flash" && orig == nil {
		held, err := r.holdFlash(ctx, env, a)
		if err != nil || held {
			return err
		}
	}
	if err := r.checkCopiesFit(m.Data(), env.GetId(), "alert", lane, level, d); err != nil {
		return err
	}
	if orig == nil && res != nil && len(res.Patterns) > 0 {
		own := firstAlert{AlertID: env.GetId(), Originator: env.GetSender(), PatternKey: dedupeKey(res.Patterns, a.GetExercise()), TLP: level.String()}
		own.Indicator, own.Pattern = leadOf(res.Patterns)
		c, err := r.recordAlert(ctx, env, own, res, level, d)
		if err != nil {
			return err
		}
		if c.first != nil {
			r.log.Info("duplicate", zap.String("id", env.GetId()), zap.String("sender", env.GetSender()), zap.String("duplicate_of", c.first.AlertID))
			return nil
		}
		return r.sendCopies(ctx, m.Data(), env, "alert", lane, level, c.d)
	}
	if err := r.putOutcome(ctx, env.GetSender(), r.outcomeRecord(env.GetId(), level, d)); err != nil {
		return err
	}
	return r.sendCopies(ctx, m.Data(), env, "alert", lane, level, d)
}

// amendTarget finds the alert an amendment or revocation refers to: it must
// exist, be routed, and belong to the same sender.
func (r *Router) amendTarget(ctx context.Context, sender, id string) (*tocsinv1.Outcome, error) {
	o, err := r.Outcome(ctx, sender, id)
	if err != nil {
		return nil, err
	}
	if o != nil {
		if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "alert %s was not routed (%s); nothing to amend", id, o.GetState())
		}
		return o, nil
	}
	keys, err := r.routed.ListKeysFiltered(ctx, "*."+id)
	if err != nil {
		return nil, err
	}
	for range keys.Keys() {
		_ = keys.Stop()
		return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_ORIGINAL_SENDER, "alert %s was sent by another member; only its original sender may amend or revoke it", id)
	}
	return nil, refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "no alert %s from %s; check the id", id, sender)
}

// holdFlash counts a flash alert against its sender's cap. Past the cap
// the alert is held (outcome HELD), the sender is told and an operator
// alarm goes to the OPS stream.
func (r *Router) holdFlash(ctx context.Context, env *tocsinv1.Envelope, a *tocsinv1.Alert) (bool, error) {
	window := time.Now().Truncate(r.opts.FlashWindow).Unix()
	key := fmt.Sprintf("%s.%d", env.GetSender(), window)
	for range 20 {
		e, err := r.flash.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err := r.flash.Create(ctx, key, []byte("1")); errors.Is(err, jetstream.ErrKeyExists) {
				continue
			} else if err != nil {
				return false, err
			}
			return false, nil
		}
		if err != nil {
			return false, err
		}
		n, _ := strconv.Atoi(string(e.Value()))
		if n >= r.opts.FlashCap {
			return true, r.hold(ctx, env, a, n)
		}
		if _, err := r.flash.Update(ctx, key, []byte(strconv.Itoa(n+1)), e.Revision()); err == nil {
			return false, nil
		}
	}
	return false, fmt.Errorf("flash counter of %s: too much contention", env.GetSender())
}

func (r *Router) hold(ctx context.Context, env *tocsinv1.Envelope, a *tocsinv1.Alert, n int) error {
	r.log.Error("flash cap exceeded: alert held", zap.String("sender", env.GetSender()), zap.String("id", env.GetId()), zap.Int("flash_alerts", n))
	alarm := fmt.Sprintf(`{"alarm":"flash-cap","sender":%q,"id":%q,"title":%q,"count":%d,"cap":%d}`, env.GetSender(), env.GetId(), a.GetTitle(), n, r.opts.FlashCap)
	if _, err := r.d.JS.Publish(ctx, subjects.Prefix+".ops.flash-cap."+env.GetSender(), []byte(alarm), jetstream.WithMsgID(env.GetId()+":alarm")); err != nil {
		return err
	}
	rej := refuse(tocsinv1.RejectionCode_REJECTION_CODE_FLASH_CAP,
		"%s sent %d flash alerts in the last %s (cap %d): this one is held and an operator has been alarmed; use lane urgent unless patient safety is at stake",
		env.GetSender(), n, r.opts.FlashWindow, r.opts.FlashCap)
	o := &tocsinv1.Outcome{RefId: env.GetId(), State: tocsinv1.OutcomeState_OUTCOME_STATE_HELD}
	if err := r.putOutcome(ctx, env.GetSender(), o); err != nil {
		return err
	}
	return r.notifyHeld(ctx, env, rej)
}

// notifyHeld tells the sender its alert is held, without recording it as
// rejected.
func (r *Router) notifyHeld(ctx context.Context, env *tocsinv1.Envelope, cause error) error {
	var rj reject
	if errors.As(cause, &rj) {
		cause = rj.err
	}
	rej := codes.NewRejection(env, subjects.Ingest(subjects.KindAlert, env.GetSender()), cause)
	return r.sendSigned(ctx, r.in(subjects.Rejection(env.GetSender())), subjects.RoutedMsgID(env.GetId(), "rejection"), tocsinv1.Kind_KIND_REJECTION, rej)
}
