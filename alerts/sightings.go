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

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
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
	e, err := r.sightings.Get(ctx, indicatorKey(s.GetIndicatorId()))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE, "indicator %s was not in any routed alert; check the id", s.GetIndicatorId())
	}
	if err != nil {
		return err
	}
	var first firstAlert
	if err := json.Unmarshal(e.Value(), &first); err != nil {
		return fmt.Errorf("indicator index of %s is corrupt: %w", s.GetIndicatorId(), err)
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
// the set grew, sends the anonymous count to the originator and the sector.
func (r *Router) addSighting(ctx context.Context, first firstAlert, sector, org string, named bool) error {
	if org == first.Originator {
		return nil
	}
	key := sightingKey(first.PatternKey, sector)
	set, changed, err := updateJSON(ctx, r.sightings, key, false,
		func() sightingSet {
			return sightingSet{AlertID: first.AlertID, Originator: first.Originator, Orgs: map[string]bool{}}
		},
		func(set *sightingSet) bool {
			if was, ok := set.Orgs[org]; ok && (was || !named) {
				return false // already counted
			}
			set.Orgs[org] = named
			return true
		})
	if err != nil || !changed {
		return err
	}
	return r.sendSummary(ctx, set, sector, strings.HasPrefix(first.PatternKey, "x-"))
}

// sendSummary tells the originator (inbox) and the sector (lane info) how
// many other organisations of the sector have seen the indicator, naming
// only those that agreed. An exercise's summary says so.
func (r *Router) sendSummary(ctx context.Context, set sightingSet, sector string, exercise bool) error {
	sum := &tocsinv1.SightingSummary{AlertId: set.AlertID, Sector: sector, Organisations: uint32(len(set.Orgs)), Exercise: exercise}
	for org, named := range set.Orgs {
		if named {
			sum.Named = append(sum.Named, org)
		}
	}
	slices.Sort(sum.Named)
	dest := fmt.Sprintf("sighting.%s.%d", sector, len(set.Orgs))
	r.log.Info("sighting count", zap.String("alert", set.AlertID), zap.String("sector", sector), zap.Int("organisations", len(set.Orgs)))
	if err := r.sendSigned(ctx, subjects.Inbox(set.Originator), subjects.RoutedMsgID(set.AlertID, dest+".originator"), tocsinv1.Kind_KIND_SIGHTING_SUMMARY, sum); err != nil {
		return err
	}
	return r.sendSigned(ctx, subjects.Sector(sector, "info"), subjects.RoutedMsgID(set.AlertID, dest), tocsinv1.Kind_KIND_SIGHTING_SUMMARY, sum)
}

// SightingCount reads how many organisations of sector other than the
// originator have seen the patterns of the alert that carried indicatorID.
func SightingCount(ctx context.Context, kv jetstream.KeyValue, indicatorID, sector string) (int, error) {
	e, err := kv.Get(ctx, indicatorKey(indicatorID))
	if err != nil {
		return 0, err
	}
	var first firstAlert
	if err := json.Unmarshal(e.Value(), &first); err != nil {
		return 0, err
	}
	e, err = kv.Get(ctx, sightingKey(first.PatternKey, sector))
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
