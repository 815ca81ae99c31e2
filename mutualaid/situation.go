package mutualaid

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Board is a region's situation: each facility's last status report, as
// the router keeps it in the SITUATION bucket (the signed envelope itself).
type Board struct {
	// Region is the region shown.
	Region string `json:"region"`
	// Facilities are sorted worst first (down, diverting, degraded,
	// normal), then by member id.
	Facilities []Facility `json:"facilities"`
	// CachedAt is set by a member site (`tocsin site`) answering from its
	// copy while the hub is unreachable: when the hub gave that copy.
	// Nil in the hub's own answers.
	CachedAt *time.Time `json:"cached_at,omitempty"`
	// Unreachable are the regions of a supercluster of stream sets whose
	// SITUATION-<region> could not be read just now (the region is away):
	// their facilities' reports are missing from this board. Empty when
	// every region answered, and on a single cluster.
	Unreachable []string `json:"unreachable,omitempty"`
}

// Facility is one facility's last status report.
type Facility struct {
	// Member is the reporting member.
	Member string `json:"member"`
	// Name is its display name.
	Name string `json:"name"`
	// State is normal, degraded, diverting or down.
	State string `json:"state"`
	// Systems are the systems affected.
	Systems []string `json:"systems,omitempty"`
	// Note is the reporter's free text.
	Note string `json:"note,omitempty"`
	// Exercise marks a drill.
	Exercise bool `json:"exercise,omitempty"`
	// At is the report's signed time.
	At time.Time `json:"at"`
	// Report is the report's envelope id.
	Report string `json:"report"`
	// KeyID is the key that signed it (verified against the registry).
	KeyID string `json:"key_id"`
	// AtSite marks a report the member sent at its site that the hub's
	// board does not show yet (queued in the site's outbox during a cut):
	// the site's board shows it, verified against its copy of the
	// directory. False in the hub's own answers.
	AtSite bool `json:"at_site,omitempty"`
}

// FacilityStateName spells a facility state as the command line does
// ("diverting").
func FacilityStateName(s tocsinv1.FacilityState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "FACILITY_STATE_"))
}

// ParseFacilityState reads normal, degraded, diverting or down.
func ParseFacilityState(name string) (tocsinv1.FacilityState, error) {
	v, ok := tocsinv1.FacilityState_value["FACILITY_STATE_"+strings.ToUpper(strings.TrimSpace(name))]
	if !ok || v == 0 {
		return 0, fmt.Errorf("facility state %q: use normal, degraded, diverting or down", name)
	}
	return tocsinv1.FacilityState(v), nil
}

// board reads a region's reports, verifying each signature; m's own
// region when none is named. Any active member may read any region's
// board: it exists so that neighbours can prepare.
func (s *Service) board(ctx context.Context, m *tocsinv1.Member, region string) (*Board, error) {
	if region == "" {
		region = m.GetRegion()
	}
	if !envelope.ValidMemberID(region) {
		return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "region %q is not a region token (lowercase letters, digits, dashes)", region)
	}
	if known := s.d.Registry.Regions(); !slices.Contains(known, region) {
		// A typo would show as an empty board: a quiet night.
		return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "region %q has no members; known regions: %s", region, strings.Join(known, ", "))
	}
	b := &Board{Region: region, Facilities: []Facility{}}
	boards, err := s.situationBuckets(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the %s board: %w", region, err)
	}
	rows := map[string]Facility{}
	for _, r := range s.readBoards(ctx, boards, region) {
		if r.err != nil {
			if len(boards) == 1 {
				return nil, r.err
			}
			s.log.Warn("a region's status reports could not be read", zap.String("bucket", r.bucket), zap.Error(r.err))
			b.Unreachable = append(b.Unreachable, r.region)
			continue
		}
		for _, f := range r.rows {
			// A member that moved home region may have a report in
			// each: the newer is its state.
			if old, ok := rows[f.Member]; !ok || f.At.After(old.At) {
				rows[f.Member] = f
			}
		}
	}
	for _, f := range rows {
		b.Facilities = append(b.Facilities, f)
	}
	SortFacilities(b.Facilities)
	slices.Sort(b.Unreachable)
	return b, nil
}

// readBoard reads one SITUATION bucket's reports of region, verified.
func (s *Service) readBoard(ctx context.Context, kv jetstream.KeyValue, region string) ([]Facility, error) {
	w, err := kv.Watch(ctx, region+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read the %s board: %w", region, err)
	}
	defer func() { _ = w.Stop() }()
	var rows []Facility
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read the %s board: %w", region, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("read the %s board: the listing stopped early", region)
			}
			if e == nil {
				return rows, nil
			}
			if f, err := s.facility(ctx, e.Value()); err != nil {
				s.log.Warn("status report skipped", zap.String("key", e.Key()), zap.Error(err))
			} else {
				rows = append(rows, *f)
			}
		}
	}
}

// facility verifies a stored report and turns it into a board row.
func (s *Service) facility(ctx context.Context, data []byte) (*Facility, error) {
	env, err := envelope.Decode(data, s.opts.MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	member, err := s.d.Verifier.Verify(ctx, env)
	if err != nil {
		return nil, err
	}
	var r tocsinv1.StatusReport
	if err := proto.Unmarshal(env.GetPayload(), &r); err != nil {
		return nil, err
	}
	return &Facility{
		Member: member.GetId(), Name: member.GetName(), State: FacilityStateName(r.GetState()), Systems: r.GetSystems(),
		Note: r.GetNote(), Exercise: r.GetExercise(), At: env.GetTime().AsTime().UTC(), Report: env.GetId(), KeyID: env.GetKeyId(),
	}, nil
}

// SortFacilities sorts a board's rows worst first (down, diverting,
// degraded, normal), then by member id.
func SortFacilities(fs []Facility) {
	slices.SortFunc(fs, func(x, y Facility) int {
		if c := severity(y.State) - severity(x.State); c != 0 {
			return c
		}
		return strings.Compare(x.Member, y.Member)
	})
}

// severity orders facility states, worst highest.
func severity(state string) int {
	return slices.Index([]string{"normal", "degraded", "diverting", "down"}, state)
}
