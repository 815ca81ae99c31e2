package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// sightingSet is the SIGHTINGS record of one pattern set in one sector:
// the organisations, other than the originator, that re-published it or
// reported a sighting, and whether each agreed to be named.
type sightingSet struct {
	AlertID    string          `json:"alert_id"`
	Originator string          `json:"originator"`
	Orgs       map[string]bool `json:"orgs"`
}

func sightingKey(patternKey, sector string) string { return "s." + patternKey + "." + sector }

// recordSighting counts a member's sighting of an indicator in each of the
// member's sectors the indicator's alert was routed to.
func (r *Router) recordSighting(ctx context.Context, env *tocsinv1.Envelope, member *tocsinv1.Member, s *tocsinv1.Sighting) error {
	if s.GetIndicatorId() == "" {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a sighting names the indicator it saw (indicator_id, \"indicator--...\")")
	}
	first, ok, err := indexOf(ctx, r.routed, r.sightings, s.GetIndicatorId())
	if err != nil {
		return err
	}
	if !ok {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "indicator %s was not in any routed alert; check the id", s.GetIndicatorId())
	}
	for _, sector := range first.Sectors {
		if slices.Contains(member.GetSectors(), sector) {
			if err := r.addSighting(ctx, first, sector, member.GetId(), s.GetNamed()); err != nil {
				return err
			}
		}
	}
	return nil
}

// addSighting adds org to the set of first's pattern in sector and, when
// the set grew, sends the count to the originator and the sector
// (sendSummary).
func (r *Router) addSighting(ctx context.Context, first firstAlert, sector, org string, named bool) error {
	if org == first.Originator {
		return nil
	}
	key := sightingKey(first.PatternKey, sector)
	grew := false
	set, changed, err := updateJSON(ctx, r.sightings, key, false,
		func() sightingSet {
			return sightingSet{AlertID: first.AlertID, Originator: first.Originator, Orgs: map[string]bool{}}
		},
		func(set *sightingSet) bool {
			was, ok := set.Orgs[org]
			if ok && (was || !named) {
				return false // already counted
			}
			grew = !ok
			set.Orgs[org] = named
			return true
		})
	if err != nil || !changed {
		return err
	}
	n := len(set.Orgs)
	if n < records.SightingFloor && !(grew && n == 1) {
		return nil // below the floor only the first organisation is told of
	}
	return r.sendSummary(ctx, first, set, sector)
}

// summaryOf is what members are told of set in sector: the indicator
// first names (the one whose sighting or re-publish this is), the alert's
// TLP, and the count and the names from records.SightingFloor up; below
// it, 0 and no names. An exercise's summary says so.
func summaryOf(first firstAlert, set sightingSet, sector string) *tocsinv1.SightingSummary {
	sum := &tocsinv1.SightingSummary{AlertId: set.AlertID, Sector: sector, Exercise: strings.HasPrefix(first.PatternKey, "x-"),
		IndicatorId: first.Indicator, Pattern: first.Pattern}
	if l, err := tlp.Parse(first.TLP); err == nil {
		sum.Tlp = l.Proto()
	}
	if len(set.Orgs) < records.SightingFloor {
		return sum
	}
	sum.Organisations = uint32(len(set.Orgs))
	for org, named := range set.Orgs {
		if named {
			sum.Named = append(sum.Named, org)
		}
	}
	slices.Sort(sum.Named)
	return sum
}

// sendSummary tells the sector (lane info) and the originator how many
// other organisations of the sector have seen the indicator, naming only
// those that agreed (summaryOf). It is one envelope: the originator reads
// it in the sector when it is a member of the sector, else in its inbox;
// and only in the originator's inbox when the alert's TLP keeps it off
// sector subjects.
func (r *Router) sendSummary(ctx context.Context, first firstAlert, set sightingSet, sector string) error {
	sum := summaryOf(first, set, sector)
	env, err := r.d.Signer.Seal(tocsinv1.Kind_KIND_SIGHTING_SUMMARY, sum)
	if err != nil {
		return fmt.Errorf("seal %s: %w", tocsinv1.Kind_KIND_SIGHTING_SUMMARY, err)
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return err
	}
	dest := fmt.Sprintf("sighting.%s.%d.%d", sector, sum.GetOrganisations(), len(sum.GetNamed()))
	if sum.GetOrganisations() == 0 {
		dest = "sighting." + sector + ".fewer"
	}
	r.log.Info("sighting count", zap.String("alert", set.AlertID), zap.String("sector", sector), zap.Int("organisations", len(set.Orgs)))
	toSector := true
	if l, err := tlp.Parse(first.TLP); err == nil && !l.AllowsSectorSubjects() {
		toSector = false
	}
	toInbox := !toSector
	if toSector {
		o, err := r.d.Registry.Member(ctx, set.Originator)
		switch {
		case errors.Is(err, members.ErrNotFound):
		case err != nil:
			return err
		default:
			toInbox = !slices.Contains(o.GetSectors(), sector)
		}
	}
	if toInbox {
		if _, err := r.d.JS.Publish(ctx, r.in(subjects.Inbox(set.Originator)), data, jetstream.WithMsgID(subjects.RoutedMsgID(set.AlertID, dest+".originator"))); err != nil {
			return err
		}
	}
	if !toSector {
		return nil
	}
	_, err = r.d.JS.Publish(ctx, r.in(subjects.Sector(sector, "info")), data, jetstream.WithMsgID(subjects.RoutedMsgID(set.AlertID, dest)))
	return err
}

// indexOf reads the index record of an indicator: from ROUTED, or, for
// one a router before the move wrote (migrateLegacy copies them; a router
// of the old version may still write them during an upgrade), from the
// SIGHTINGS bucket under "i.<indicator>".
func indexOf(ctx context.Context, routed, sightings jetstream.KeyValue, indicatorID string) (firstAlert, bool, error) {
	var first firstAlert
	e, err := routed.Get(ctx, indicatorKey(indicatorID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		e, err = sightings.Get(ctx, legacyIndicatorKey(indicatorID))
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return first, false, nil
	}
	if err != nil {
		return first, false, err
	}
	if err := json.Unmarshal(e.Value(), &first); err != nil {
		return first, false, fmt.Errorf("indicator index of %s is corrupt: %w", indicatorID, err)
	}
	return first, true, nil
}

// SightingCount reads how many organisations of sector other than the
// originator have seen the patterns of the alert that carried indicatorID.
func SightingCount(ctx context.Context, js jetstream.JetStream, indicatorID, sector string) (int, error) {
	routed, err := js.KeyValue(ctx, records.BucketRouted)
	if err != nil {
		return 0, err
	}
	kv, err := js.KeyValue(ctx, records.BucketSightings)
	if err != nil {
		return 0, err
	}
	first, ok, err := indexOf(ctx, routed, kv, indicatorID)
	if err != nil || !ok {
		return 0, errors.Join(err, jetstream.ErrKeyNotFound)
	}
	e, err := kv.Get(ctx, sightingKey(first.PatternKey, sector))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var set sightingSet
	if err := json.Unmarshal(e.Value(), &set); err != nil {
		return 0, err
	}
	return len(set.Orgs), nil
}
