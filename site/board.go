package site

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// maxEnvelope bounds a queued report the site decodes (its max payload).
const maxEnvelope = 1 << 20

// boardAnswer is the mutual-aid read path's answer (mutualaid.Ask).
type boardAnswer struct {
	Error  json.RawMessage `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// overlayBoard returns a board answer as the site shows it: marked with
// when the hub gave it (cachedAt, when not zero: answered from the cache
// during a cut), and, on the member's own region's board, with the
// member's own last status report sent at the site (queued in the outbox,
// or forwarded) in place of the hub's row, marked AtSite, until the hub's
// board has that report or a later one. A report that the site's copy of
// the directory does not verify is not shown. An answer it cannot read is
// given as the hub gave it.
func (s *Site) overlayBoard(ctx context.Context, data []byte, cachedAt time.Time) []byte {
	var a boardAnswer
	if json.Unmarshal(data, &a) != nil || len(a.Error) > 0 || len(a.Result) == 0 {
		return data
	}
	var b mutualaid.Board
	if json.Unmarshal(a.Result, &b) != nil {
		return data
	}
	if !cachedAt.IsZero() {
		at := cachedAt.UTC()
		b.CachedAt = &at
	}
	if f := s.queuedReport(ctx, b.Region); f != nil {
		i := 0
		for ; i < len(b.Facilities) && b.Facilities[i].Member != f.Member; i++ {
		}
		switch {
		case i == len(b.Facilities):
			b.Facilities = append(b.Facilities, *f)
		case b.Facilities[i].Report != f.Report && b.Facilities[i].At.Before(f.At):
			b.Facilities[i] = *f
		}
		mutualaid.SortFacilities(b.Facilities)
	}
	res, err := json.Marshal(b)
	if err != nil {
		return data
	}
	a.Result = res
	out, err := json.Marshal(a)
	if err != nil {
		return data
	}
	return out
}

// queuedReport is the member's latest status report sent at the site as a
// board row of region, verified with the site's copy of the directory;
// nil when there is none, it is not the member's region, or it does not
// verify.
func (s *Site) queuedReport(ctx context.Context, region string) *mutualaid.Facility {
	dir, err := s.directory(ctx)
	if err != nil {
		s.log.Debug("board: the site's copy of the directory", zap.Error(err))
		return nil
	}
	me := dir.members[s.id.member]
	if me == nil || me.GetRegion() != region {
		return nil
	}
	var best *tocsinv1.Envelope
	for _, data := range s.sentReports(ctx) {
		env, err := envelope.Decode(data, maxEnvelope)
		if err != nil || env.GetKind() != tocsinv1.Kind_KIND_STATUS_REPORT || env.GetSender() != s.id.member {
			continue
		}
		if best == nil || env.GetTime().AsTime().After(best.GetTime().AsTime()) {
			best = env
		}
	}
	if best == nil {
		return nil
	}
	m, err := envelope.NewVerifier(dir, envelope.VerifyOptions{}).Verify(ctx, best)
	if err != nil {
		s.log.Warn("board: a status report sent at the site does not verify; not shown", zap.String("id", best.GetId()), zap.Error(err))
		return nil
	}
	var r tocsinv1.StatusReport
	if err := proto.Unmarshal(best.GetPayload(), &r); err != nil {
		return nil
	}
	return &mutualaid.Facility{
		Member: m.GetId(), Name: m.GetName(), State: mutualaid.FacilityStateName(r.GetState()), Systems: r.GetSystems(),
		Note: r.GetNote(), Exercise: r.GetExercise(), At: best.GetTime().AsTime().UTC(), Report: best.GetId(), KeyID: best.GetKeyId(),
		AtSite: true,
	}
}

// sentReports are the member's last status report in the outbox (not at
// the hub yet) and the last one the site forwarded.
func (s *Site) sentReports(ctx context.Context) [][]byte {
	var out [][]byte
	if st, err := s.js.Stream(ctx, StreamOutbox); err == nil {
		m, err := st.GetLastMsgForSubject(ctx, subjects.Ingest(subjects.KindStatus, s.id.member))
		if err == nil {
			out = append(out, m.Data)
		} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
			s.log.Debug("board: reading the outbox", zap.Error(err))
		}
	}
	if m, _, err := s.cached(ctx, cacheForwardedStatus); err == nil && m != nil {
		out = append(out, m.Data)
	}
	return out
}
