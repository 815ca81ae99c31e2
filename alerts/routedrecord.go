package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/internal/kvread"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/tlp"
)

// The router's record of a routed alert is one replicated write: the
// dedupe claim of its pattern set in each sector, the index record of
// each of its indicators and its outcome, in one atomic batch to the
// ROUTED bucket's stream, each record conditional on its key's last
// revision. It is written before the copies: the claims decide where the
// copies go, and a redelivery that finds the outcome sends the copies
// again under their message ids (resendCopies), so a node lost between
// the record and the copies loses nothing.

// claimKey is the ROUTED key of the dedupe claim of a pattern set in a
// sector.
func claimKey(patternKey, sector string) string {
	return records.RouterKeyPrefix + "dedupe." + patternKey + "." + sector
}

// indicatorKey is the ROUTED key of an indicator's index record.
func indicatorKey(id string) string { return records.RouterKeyPrefix + "indicator." + id }

// kvWrite is one record of a batch: key gets value if its last revision
// is still rev (0: the key must not exist).
type kvWrite struct {
	key   string
	value []byte
	rev   uint64
}

// errRecordExists says a record of a batch was not written because its
// key's revision was not the one expected; nothing of the batch was.
var errRecordExists = errors.New("a record of the batch exists")

// errAtomicOff says the ROUTED stream refused the batch because atomic
// publish is off (provisioning with CreateOrUpdateKeyValue turns it off
// until broker.Provision turns it on again); transient.
var errAtomicOff = errors.New("the ROUTED bucket's stream does not allow atomic batches right now")

// errBatchNotStaged says the stream leader did not stage a batch whole
// (too many batches open at once, or a record lost on the way): nothing of
// it was written; transient.
var errBatchNotStaged = errors.New("the ROUTED stream did not stage the batch")

// JetStream error codes writeRecords tells apart.
const (
	codeWrongLastSeq      = 10071
	codeWrongLastSeqConst = 10164
	codeAtomicDisabled    = 10174
	codeBatchIncomplete   = 10176
	codeTooManyInflight   = 10210
)

// batchAttempts is how often writeRecords sends a batch the stream
// leader could not stage (more batches open on the stream than it allows
// at once, 50 by default: every router's workers write to ROUTED).
const batchAttempts = 8

// writeRecords writes ws to ROUTED, all or none (writeBatch), and sends
// the batch again, after a moment, when the stream leader could not stage
// it.
func (r *Router) writeRecords(ctx context.Context, ws []kvWrite) error {
	for attempt := 1; ; attempt++ {
		err := r.writeBatch(ctx, ws)
		if errors.Is(err, errAtomicOff) {
			// A bucket re-created or provisioned without it: turn it on.
			if aerr := r.allowAtomic(ctx); aerr != nil {
				return errors.Join(err, aerr)
			}
		} else if !errors.Is(err, errBatchNotStaged) {
			return err
		}
		if attempt == batchAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 2 * time.Millisecond):
		}
	}
}

// writeBatch writes ws to ROUTED, all or none: one record is a publish
// with its expected last subject sequence; more are one atomic batch
// (Nats-Batch-Id, Nats-Batch-Sequence, Nats-Batch-Commit on the last),
// the records before the commit published without a reply and the commit
// answered once, so the batch costs one round trip and one replicated
// write.
func (r *Router) writeBatch(ctx context.Context, ws []kvWrite) error {
	msgs := make([]*nats.Msg, len(ws))
	for i, w := range ws {
		msgs[i] = &nats.Msg{Subject: records.KeyPrefix(r.bucket(records.BucketRouted)) + w.key, Data: w.value, Header: nats.Header{}}
		msgs[i].Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(w.rev, 10))
	}
	if len(msgs) == 1 {
		_, err := r.d.JS.PublishMsg(ctx, msgs[0])
		return recordError(err)
	}
	nc := r.d.JS.Conn()
	batch := nuid.Next()
	for i, m := range msgs {
		m.Header.Set("Nats-Batch-Id", batch)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := nc.PublishMsg(m); err != nil {
				return fmt.Errorf("record batch %s message %d: %w", batch, i+1, err)
			}
		}
	}
	last := msgs[len(msgs)-1]
	last.Header.Set("Nats-Batch-Commit", "1")
	wctx, cancel := context.WithTimeout(ctx, jsctx.AsyncPubAckTimeout)
	defer cancel()
	reply, err := nc.RequestMsgWithContext(wctx, last)
	if err != nil {
		return fmt.Errorf("record batch %s: %w", batch, err)
	}
	var ack struct {
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return fmt.Errorf("record batch %s: the answer does not decode: %w", batch, err)
	}
	if ack.Error != nil {
		return recordError(ack.Error)
	}
	return nil
}

// recordError maps a write's error: a lost condition is errRecordExists.
func recordError(err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode {
	case codeWrongLastSeq, codeWrongLastSeqConst:
		return fmt.Errorf("%w: %v", errRecordExists, apiErr)
	case codeAtomicDisabled:
		return fmt.Errorf("%w: %v; broker.Provision turns it on", errAtomicOff, apiErr)
	case codeBatchIncomplete, codeTooManyInflight:
		return fmt.Errorf("%w: %v", errBatchNotStaged, apiErr)
	}
	return err
}

// outcomeRecord is the ROUTED outcome of message id routed to d.
func (r *Router) outcomeRecord(id string, level tlp.Level, d destinations) *tocsinv1.Outcome {
	return &tocsinv1.Outcome{
		RefId: id, State: tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED, At: timestamppb.Now(),
		Sectors: d.sectors, Recipients: d.inboxes, Organisations: uint32(len(r.organisations(d))), Tlp: level.Proto(),
	}
}

// claimed is what recordAlert decided: where the copies go, or, when every
// sector had the pattern set already and no inbox is addressed, the first
// alert it duplicates (its outcome DUPLICATE is recorded).
type claimed struct {
	d     destinations
	first *firstAlert
}

// recordAlert writes a first alert's record (claims, index, outcome) in
// one batch and returns where its copies go: the sectors it claimed, and
// its inboxes. A sector whose claim another alert holds within the dedupe
// window is left out and the sender counted as a sighting of that alert
// there; when none is left and no inbox is addressed, the alert is a
// duplicate: its indicators are indexed for the first alert and its
// outcome is DUPLICATE. A record already there from an earlier attempt
// at this message stands: the outcome found says where the copies go.
func (r *Router) recordAlert(ctx context.Context, env *tocsinv1.Envelope, own firstAlert, res *stix.Result, level tlp.Level, d destinations) (claimed, error) {
	sender, id := env.GetSender(), env.GetId()
	want := slices.Clone(d.sectors)
	revs := map[string]uint64{}  // a claim to take over (expired), by key
	indexed := map[string]bool{} // indicators whose index record exists
	var first *firstAlert
	for range casAttempts {
		var ws []kvWrite
		var o *tocsinv1.Outcome
		routed := destinations{sectors: want, inboxes: d.inboxes}
		rec := own
		rec.Sectors = d.sectors // sightings count in every sector addressed
		dup := first != nil && len(want) == 0 && len(d.inboxes) == 0
		if dup {
			// A duplicate: sightings of its indicators count for the first
			// alert, in the sectors this one addressed.
			rec = *first
			rec.Sectors, rec.Claimed = d.sectors, 0
			o = &tocsinv1.Outcome{RefId: id, State: tocsinv1.OutcomeState_OUTCOME_STATE_DUPLICATE, DuplicateOf: first.AlertID, Tlp: level.Proto(), At: timestamppb.Now()}
		} else {
			claim := own
			claim.Sectors, claim.Claimed = nil, time.Now().Unix()
			data := claim.marshal()
			for _, s := range want {
				k := claimKey(own.PatternKey, s)
				ws = append(ws, kvWrite{k, data, revs[k]})
			}
			o = r.outcomeRecord(id, level, routed)
		}
		for _, p := range res.Patterns {
			if indexed[p.IndicatorID] {
				continue
			}
			if !dup {
				rec.Indicator, rec.Pattern = p.IndicatorID, p.Pattern // its own
			}
			ws = append(ws, kvWrite{indicatorKey(p.IndicatorID), rec.marshal(), 0})
		}
		data, err := proto.Marshal(o)
		if err != nil {
			return claimed{}, err
		}
		ws = append(ws, kvWrite{records.OutcomeKey(sender, id), data, 0})
		err = r.writeRecords(ctx, ws)
		if err == nil && dup {
			return claimed{first: first}, nil
		}
		if err == nil {
			return claimed{d: routed}, nil
		}
		if !errors.Is(err, errRecordExists) {
			return claimed{}, err
		}
		// Which record was there? Read each from the stream's leader.
		if prior, err := r.leaderOutcome(ctx, sender, id); err != nil || prior != nil {
			if err != nil {
				return claimed{}, err
			}
			return r.priorRecord(prior)
		}
		for _, s := range slices.Clone(want) {
			k := claimKey(own.PatternKey, s)
			data, rev, ok, err := kvread.Leader(ctx, r.d.JS, r.bucket(records.BucketRouted), k)
			if err != nil {
				return claimed{}, err
			}
			var holder firstAlert
			switch {
			case !ok:
				revs[k] = 0
			case json.Unmarshal(data, &holder) != nil || holder.AlertID == id || r.expired(holder):
				revs[k] = rev // ours from an interrupted attempt, or free again
			default:
				first = &holder
				want = slices.DeleteFunc(want, func(x string) bool { return x == s })
				if err := r.addSighting(ctx, holder, s, sender, false); err != nil {
					return claimed{}, err
				}
			}
		}
		for _, p := range res.Patterns {
			if _, _, ok, err := kvread.Leader(ctx, r.d.JS, r.bucket(records.BucketRouted), indicatorKey(p.IndicatorID)); err != nil {
				return claimed{}, err
			} else if ok {
				indexed[p.IndicatorID] = true // the first alert's index stands
			}
		}
	}
	return claimed{}, fmt.Errorf("record of alert %s: too much contention on its claims", id)
}

// expired reports whether a dedupe claim is past the dedupe window.
func (r *Router) expired(f firstAlert) bool {
	return f.Claimed != 0 && time.Since(time.Unix(f.Claimed, 0)) > r.opts.DedupeWindow
}

// leaderOutcome reads a message's outcome from the ROUTED stream's leader.
func (r *Router) leaderOutcome(ctx context.Context, sender, id string) (*tocsinv1.Outcome, error) {
	data, _, ok, err := kvread.Leader(ctx, r.d.JS, r.bucket(records.BucketRouted), records.OutcomeKey(sender, id))
	if err != nil || !ok {
		return nil, err
	}
	var o tocsinv1.Outcome
	if err := proto.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("outcome of %s is corrupt: %w", id, err)
	}
	return &o, nil
}

// priorRecord is what an earlier attempt at the message recorded: the
// copies still go where its outcome says.
func (r *Router) priorRecord(o *tocsinv1.Outcome) (claimed, error) {
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		return claimed{first: &firstAlert{AlertID: o.GetDuplicateOf()}}, nil
	}
	return claimed{d: destinations{sectors: o.GetSectors(), inboxes: o.GetRecipients()}}, nil
}

// allowAtomic turns on atomic batch publish on the ROUTED bucket's stream
// (broker.Provision does; a bucket re-created by hand has it off).
func (r *Router) allowAtomic(ctx context.Context) error {
	st, err := r.d.JS.Stream(ctx, records.Stream(r.bucket(records.BucketRouted)))
	if err != nil {
		return err
	}
	cfg := st.CachedInfo().Config
	if cfg.AllowAtomicPublish {
		return nil
	}
	cfg.AllowAtomicPublish = true
	if _, err := r.d.JS.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("allow atomic batches on %s: %w", cfg.Name, err)
	}
	r.log.Warn("turned atomic batch publish on for the ROUTED bucket's stream; broker.Provision sets it")
	return nil
}
