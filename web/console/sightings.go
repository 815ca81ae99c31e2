package console

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/internal/follow"
)

// sightingView is one sector's count of organisations that have seen an
// alert's indicators, as the page shows it.
type sightingView struct {
	Sector string `json:"sector"`
	// Organisations is the count when it is records.SightingFloor or more,
	// else 0: a count below the floor is never shown as a number.
	Organisations int `json:"organisations,omitempty"`
	// FewerThan is records.SightingFloor when the count is below it.
	FewerThan int `json:"fewer_than,omitempty"`
	// Named are the organisations that agreed to be named.
	Named []string  `json:"named,omitempty"`
	At    time.Time `json:"at"`
	// originator marks a count read in the originator's inbox: the router
	// sent it to the originator alone.
	originator bool
}

func viewOfCount(sector string, sum *tocsinv1.SightingSummary, at time.Time) sightingView {
	v := sightingView{Sector: sector, Named: sum.GetNamed(), At: at}
	if v.Organisations = records.SightingOrganisations(sum.GetOrganisations()); v.Organisations == 0 {
		v.FewerThan, v.Named = records.SightingFloor, nil
	}
	return v
}

// sightings keeps the last sighting summary of each alert in each sector,
// read from the summaries the router routes to the sectors (lane info)
// and to originators' inboxes, every one verified as a service's.
type sightings struct {
	mu      sync.RWMutex
	byAlert map[string]map[string]sightingView // alert id, sector
}

func newSightings() *sightings { return &sightings{byAlert: map[string]map[string]sightingView{}} }

// of returns the counts of alert id that member may read: every one for
// the alert's sender, those routed to its sectors for the others.
func (s *sightings) of(member *tocsinv1.Member, sender, id string) []sightingView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []sightingView{}
	for sector, v := range s.byAlert[id] {
		if member.GetId() == sender || (!v.originator && slices.Contains(member.GetSectors(), sector)) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b sightingView) int { return strings.Compare(a.Sector, b.Sector) })
	return out
}

// put records a summary (originator: read in the originator's inbox); a
// count never goes down (an older summary read late does not undo a newer
// one), and one the sector was sent is not made the originator's alone.
func (s *sightings) put(sum *tocsinv1.SightingSummary, at time.Time, originator bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := s.byAlert[sum.GetAlertId()]
	if by == nil {
		by = map[string]sightingView{}
		s.byAlert[sum.GetAlertId()] = by
	}
	cur, ok := by[sum.GetSector()]
	if ok && cur.At.After(at) {
		return false
	}
	v := viewOfCount(sum.GetSector(), sum, at)
	v.originator = originator && (!ok || cur.originator)
	by[sum.GetSector()] = v
	return true
}

// followSightings reads the sighting summaries from their streams' start:
// the sectors' info lanes and the inboxes (where the router sends an
// originator that is not a member of the sector its own copy).
func (s *Server) followSightings(ctx context.Context) {
	var wg sync.WaitGroup
	// Every region's summaries: a region's copies streams hold them all.
	in := func(stream, filter string) (string, string) {
		if s.opts.Region == "" {
			return stream, filter
		}
		return subjects.RegionStream(stream, s.opts.Region), subjects.InRegion(subjects.AnyRegion, filter)
	}
	sectors, sectorsFilter := in(subjects.StreamSectors, subjects.Sector("*", "info"))
	inbox, inboxFilter := in(subjects.StreamInbox, subjects.Inbox("*"))
	wg.Go(func() { s.followSummaries(ctx, sectors, sectorsFilter, false) })
	wg.Go(func() { s.followSummaries(ctx, inbox, inboxFilter, true) })
	wg.Wait()
}

// followSummaries keeps the summaries of stream under filter and tells the
// streams of those who may see them ("sighting": {"id": alert id}).
func (s *Server) followSummaries(ctx context.Context, stream, filter string, originator bool) {
	var next uint64 = 1
	follow.Retry(ctx, s.log, "sighting summaries in "+stream, func(ctx context.Context) error {
		cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter},
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: next}
		return follow.Stream(ctx, s.d.JS, stream, cfg, func() {}, func(msg jetstream.Msg) error {
			sum, at, err := s.summary(ctx, msg.Data())
			if err != nil {
				return err // the registry did not answer: read it again
			}
			if meta, err := msg.Metadata(); err == nil {
				next = meta.Sequence.Stream + 1
			}
			if sum == nil || !s.sightings.put(sum, at, originator) {
				return nil
			}
			data, _ := json.Marshal(map[string]string{"id": sum.GetAlertId()})
			alert := sum.GetAlertId()
			s.hub.broadcast(event{name: "sighting", data: data, to: func(c *client) bool {
				m, err := s.d.Store.Message(c.member, alert)
				return err == nil && len(s.sightings.of(c.member, m.Sender, alert)) > 0
			}})
			return nil
		})
	})
}

// summary opens a routed sighting summary: nil for anything else, or for
// one that does not verify as a Tocsin service's; an error when the
// registry could not be asked.
func (s *Server) summary(ctx context.Context, data []byte) (*tocsinv1.SightingSummary, time.Time, error) {
	env, err := envelope.Decode(data, 0)
	if err != nil || env.GetKind() != tocsinv1.Kind_KIND_SIGHTING_SUMMARY {
		return nil, time.Time{}, nil
	}
	var sum tocsinv1.SightingSummary
	sender, err := s.d.Verifier.Open(ctx, env, &sum)
	if err != nil && codes.Of(err) == tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED {
		return nil, time.Time{}, err
	}
	if err != nil || !members.HasRole(sender, tocsinv1.Role_ROLE_SERVICE) {
		s.log.Warn("a sighting summary that is not a service's: not shown", zap.String("id", env.GetId()), zap.String("sender", env.GetSender()), zap.Error(err))
		return nil, time.Time{}, nil
	}
	return &sum, env.GetTime().AsTime(), nil
}
