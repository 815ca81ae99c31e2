package demo_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/cmd/tocsin/cli"
	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/demo"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// The story's cast, as the test expects to find it in the cluster.
var (
	patientCare = []string{"hilltop", "lakeside-childrens", "riverside", "st-mary", "valley-general"}
	healthIT    = []string{"downtime-staffing", "ehr-vendor", "ir-firm"}
	elsewhere   = []string{"acme-pharma", "hhs-liaison", "medtech-devices", "state-public-health"}
	responders  = []string{"downtime-staffing", "ir-firm"}
)

const c2 = "indicator--7d1b64d9-294c-54e2-9baa-ab83f406625e"

// TestTheNightStMarysWentDown plays the whole story on a fresh data
// directory, as `tocsin demo` does, and checks every step's outcome in the
// cluster's own state (streams, buckets, the agents' files), not in what
// the demo printed.
func TestTheNightStMarysWentDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	data := filepath.Join(t.TempDir(), "demo")
	var out bytes.Buffer
	checked := false
	start := time.Now()
	sum, err := demo.Run(ctx, demo.Options{DataDir: data, CLI: cli.Main, Out: &out,
		AfterStory: func(ctx context.Context, servers string) error {
			n := openNight(ctx, t, data, servers)
			n.checkAlert()
			n.checkDuplicateAndSightings()
			n.checkRejection()
			n.checkAdvisory()
			n.checkAid()
			n.checkSituation()
			n.checkRedNote()
			n.checkRevoked()
			n.checkNodeDown()
			n.checkFeeds()
			checked = true
			return nil
		}}, zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)))
	took := time.Since(start)
	if err != nil || t.Failed() {
		t.Logf("narration:\n%s", out.String())
	}
	if err != nil {
		t.Fatalf("the demo failed after %s: %v", took, err)
	}
	if !checked {
		t.Fatal("the demo finished without calling AfterStory")
	}
	if !sum.Passed || sum.Deliveries.Missing != 0 || sum.Deliveries.Twice != 0 || len(sum.Faults) != 5 {
		t.Errorf("summary: passed %v, deliveries %+v, %d faults", sum.Passed, sum.Deliveries, len(sum.Faults))
	}
	t.Logf("the story took %s", took)
}

// A demo directory that holds anything else is refused, and never wiped.
func TestRefusesAForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "thesis.tex")
	if err := os.WriteFile(keep, []byte("years of work"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := demo.Run(context.Background(), demo.Options{DataDir: dir, CLI: cli.Main}, nil)
	if err == nil || !strings.Contains(err.Error(), "not a previous demo's") {
		t.Fatalf("err = %v, want a refusal of a directory that is not a previous demo's", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("the file was touched: %v", err)
	}
}

// night is the cluster after the story, read with a service connection
// issued from the cluster's own keys.
type night struct {
	t    *testing.T
	ctx  context.Context
	data string
	js   jetstream.JetStream
	// sent is every message members sent, from INGEST, decoded.
	sent []sent
}

type sent struct {
	env     *tocsinv1.Envelope
	payload proto.Message
}

func openNight(ctx context.Context, t *testing.T, data, servers string) *night {
	a, err := auth.Load(filepath.Join(data, "auth"))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := a.IssueService("demo-test")
	if err != nil {
		t.Fatal(err)
	}
	opt, err := auth.CredsOption(creds)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(servers, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	n := &night{t: t, ctx: ctx, data: data, js: js}
	n.sent = n.read(subjects.StreamIngest)
	return n
}

// each calls f with every message of a stream, by sequence.
func (n *night) each(stream string, f func(*jetstream.RawStreamMsg)) {
	s, err := n.js.Stream(n.ctx, stream)
	if err != nil {
		n.t.Fatal(err)
	}
	st := s.CachedInfo().State
	for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
		m, err := s.GetMsg(n.ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			n.t.Fatalf("%s #%d: %v", stream, seq, err)
		}
		f(m)
	}
}

// read decodes every message of a stream.
func (n *night) read(stream string) []sent {
	var out []sent
	n.each(stream, func(m *jetstream.RawStreamMsg) {
		env, err := envelope.Decode(m.Data, 0)
		if err != nil {
			n.t.Fatalf("%s #%d: %v", stream, m.Sequence, err)
		}
		p, err := envelope.PayloadFor(env.GetKind())
		if err != nil || proto.Unmarshal(env.GetPayload(), p) != nil {
			n.t.Fatalf("%s #%d: payload of %s", stream, m.Sequence, env.GetKind())
		}
		out = append(out, sent{env, p})
	})
	return out
}

// find returns the one message from sender of kind that match accepts.
func (n *night) find(sender string, kind tocsinv1.Kind, match func(proto.Message) bool) *tocsinv1.Envelope {
	n.t.Helper()
	var found []*tocsinv1.Envelope
	for _, s := range n.sent {
		if s.env.GetSender() == sender && s.env.GetKind() == kind && match(s.payload) {
			found = append(found, s.env)
		}
	}
	if len(found) != 1 {
		n.t.Fatalf("%d %s messages from %s match, want 1", len(found), kind, sender)
	}
	return found[0]
}

func anything(proto.Message) bool { return true }

// alert finds the alert from sender with TLP level.
func (n *night) alert(sender string, level tocsinv1.TLP) *tocsinv1.Envelope {
	return n.find(sender, tocsinv1.Kind_KIND_ALERT, func(p proto.Message) bool { return p.(*tocsinv1.Alert).GetTlp() == level })
}

// outcome reads the router's outcome of env from ROUTED.
func (n *night) outcome(env *tocsinv1.Envelope) *tocsinv1.Outcome {
	n.t.Helper()
	o, err := records.GetOutcome(n.ctx, n.kv(records.BucketRouted), env.GetSender(), env.GetId())
	if err != nil || o == nil {
		n.t.Fatalf("no outcome of %s: %v", env.GetId(), err)
	}
	return o
}

// kv opens a bucket.
func (n *night) kv(bucket string) jetstream.KeyValue {
	n.t.Helper()
	kv, err := n.js.KeyValue(n.ctx, bucket)
	if err != nil {
		n.t.Fatal(err)
	}
	return kv
}

// value reads a key that must exist.
func (n *night) value(bucket, key string) []byte {
	n.t.Helper()
	e, err := n.kv(bucket).Get(n.ctx, key)
	if err != nil {
		n.t.Fatalf("%s %s: %v", bucket, key, err)
	}
	return e.Value()
}

// reach reads member's receipts of id from REACH.
func (n *night) reach(id, member string) records.Reach {
	n.t.Helper()
	r, _, err := records.ReceiptOf(n.ctx, n.kv(records.BucketReach), id, member)
	if err != nil {
		n.t.Fatal(err)
	}
	return r
}

// record is one line of an agent's JSONL feed.
type record struct {
	ID       string                       `json:"id"`
	Kind     string                       `json:"kind"`
	Sender   string                       `json:"sender"`
	Verified bool                         `json:"verified"`
	Exercise bool                         `json:"exercise"`
	Summary  *struct{ Organisations int } `json:"summary"`
}

// feed is member's JSONL feed, record by record.
func (n *night) feed(member string) []record {
	n.t.Helper()
	f, err := os.Open(filepath.Join(n.data, "agents", member, "alerts.jsonl"))
	if err != nil {
		n.t.Fatal(err)
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			n.t.Fatalf("%s's feed: %v", member, err)
		}
		out = append(out, r)
	}
	return out
}

// holders are the members whose feed holds id.
func (n *night) holders(id string) []string {
	var out []string
	for _, m := range slices.Concat(patientCare, healthIT, elsewhere) {
		if slices.ContainsFunc(n.feed(m), func(r record) bool { return r.ID == id }) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

func sorted(ss ...[]string) []string {
	out := slices.Concat(ss...)
	slices.Sort(out)
	return out
}

// 02:14: the flash alert reached every patient-care and health-it
// organisation's feed, STIX folder and receipts, and nobody else's.
func (n *night) checkAlert() {
	env := n.alert("st-mary", tocsinv1.TLP_TLP_AMBER)
	o := n.outcome(env)
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED || o.GetOrganisations() != 8 {
		n.t.Errorf("alert outcome %v to %d organisations, want routed to 8", o.GetState(), o.GetOrganisations())
	}
	want := sorted(patientCare, healthIT)
	if got := n.holders(env.GetId()); !slices.Equal(got, want) {
		n.t.Errorf("the alert is in the feeds of %v, want %v", got, want)
	}
	for _, m := range want {
		if _, err := os.Stat(filepath.Join(n.data, "agents", m, "stix", env.GetId()+".json")); err != nil {
			n.t.Errorf("%s's STIX folder: %v", m, err)
		}
		if n.reach(env.GetId(), m).Delivered.IsZero() {
			n.t.Errorf("no delivered receipt of the alert from %s", m)
		}
	}
}

// 02:15 and 03:00: Lakeside's copy was a duplicate, and four other
// patient-care organisations are counted as having seen the C2 address.
func (n *night) checkDuplicateAndSightings() {
	alert := n.alert("st-mary", tocsinv1.TLP_TLP_AMBER).GetId()
	dup := n.outcome(n.alert("lakeside-childrens", tocsinv1.TLP_TLP_AMBER))
	if dup.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_DUPLICATE || dup.GetDuplicateOf() != alert {
		n.t.Errorf("lakeside's alert: %v of %q, want a duplicate of %s", dup.GetState(), dup.GetDuplicateOf(), alert)
	}
	if c, err := alerts.SightingCount(n.ctx, n.js, c2, "patient-care"); err != nil || c != 4 {
		n.t.Errorf("patient-care sightings of %s: %d (%v), want 4", c2, c, err)
	}
	for _, who := range []string{"riverside", "valley-general", "hilltop"} {
		n.find(who, tocsinv1.Kind_KIND_SIGHTING, func(p proto.Message) bool { return p.(*tocsinv1.Sighting).GetIndicatorId() == c2 })
	}
	if !slices.ContainsFunc(n.feed("st-mary"), func(r record) bool { return r.Summary != nil && r.Summary.Organisations == 4 }) {
		n.t.Error("st-mary's feed has no sighting count of 4")
	}
}

// 02:16: the malformed export was refused, with a signed rejection.
func (n *night) checkRejection() {
	env := n.alert("riverside", tocsinv1.TLP_TLP_GREEN)
	o := n.outcome(env)
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
		n.t.Errorf("riverside's export: %v, want rejected", o.GetState())
	}
	var rej *tocsinv1.Rejection
	for _, s := range n.read(subjects.StreamRejections) {
		if r, ok := s.payload.(*tocsinv1.Rejection); ok && r.GetRefId() == env.GetId() {
			rej = r
		}
	}
	if rej == nil || len(rej.GetProblems()) == 0 || codes.Name(rej.GetProblems()[0].GetCode()) != "invalid-spec-version" {
		n.t.Errorf("rejection of riverside's export: %v, want invalid-spec-version", rej)
	}
	if got := n.holders(env.GetId()); len(got) > 0 {
		n.t.Errorf("the rejected export is in the feeds of %v", got)
	}
}

// 02:20 and after: the advisory reached all twelve, verified; five
// acknowledged it, two acted on it.
func (n *night) checkAdvisory() {
	env := n.find("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, anything)
	all := sorted(patientCare, healthIT, elsewhere)
	if got := n.holders(env.GetId()); !slices.Equal(got, all) {
		n.t.Errorf("the advisory is in the feeds of %v, want all of %v", got, all)
	}
	acked, actioned := 0, 0
	for _, m := range all {
		r := n.reach(env.GetId(), m)
		if r.Delivered.IsZero() {
			n.t.Errorf("no delivered receipt of the advisory from %s", m)
		}
		if !r.Acknowledged.IsZero() || !r.Actioned.IsZero() {
			acked++
		}
		if !r.Actioned.IsZero() {
			actioned++
		}
	}
	if acked != 5 || actioned != 2 {
		n.t.Errorf("the advisory was acknowledged by %d and acted on by %d, want 5 and 2", acked, actioned)
	}
	for _, r := range n.feed("valley-general") {
		if r.ID == env.GetId() && (!r.Verified || r.Sender != "hhs-liaison") {
			n.t.Errorf("valley-general's record of the advisory: %+v", r)
		}
	}
}

// 02:30 to days later: the request was notified to the two responders,
// filled, and closed after twelve signed steps.
func (n *night) checkAid() {
	env := n.find("st-mary", tocsinv1.Kind_KIND_AID_REQUEST, anything)
	var r mutualaid.Request
	if err := json.Unmarshal(n.value(records.BucketAid, "req."+env.GetId()), &r); err != nil {
		n.t.Fatal(err)
	}
	var steps []string
	for _, ev := range r.Timeline {
		steps = append(steps, string(ev.Action)+":"+ev.By)
	}
	want := []string{"request:st-mary", "offer:ir-firm", "offer:downtime-staffing", "accept:st-mary", "accept:st-mary",
		"mobilise:ir-firm", "arrive:ir-firm", "demobilise:ir-firm",
		"mobilise:downtime-staffing", "arrive:downtime-staffing", "demobilise:downtime-staffing", "close:st-mary"}
	if r.State != mutualaid.RequestClosed || !slices.Equal(steps, want) || !r.Exercise {
		n.t.Errorf("request %s (exercise %v), steps %v; want closed, exercise, %v", r.State, r.Exercise, steps, want)
	}
	if got := slices.Sorted(slices.Values(r.Audience)); !slices.Equal(got, responders) {
		n.t.Errorf("the request was notified to %v, want %v", got, responders)
	}
	if got := n.holders(env.GetId()); !slices.Equal(got, responders) {
		n.t.Errorf("the request is in the feeds of %v, want the responders %v", got, responders)
	}
}

// 02:45: St. Mary's is on the northeast board, diverting.
func (n *night) checkSituation() {
	env, err := envelope.Decode(n.value(records.BucketSituation, "northeast.st-mary"), 0)
	if err != nil {
		n.t.Fatal(err)
	}
	var sr tocsinv1.StatusReport
	if err := proto.Unmarshal(env.GetPayload(), &sr); err != nil {
		n.t.Fatal(err)
	}
	if sr.GetState() != tocsinv1.FacilityState_FACILITY_STATE_DIVERTING || !slices.Equal(sr.GetSystems(), []string{"ehr", "pacs"}) || !sr.GetExercise() {
		n.t.Errorf("st-mary's status report: %v", &sr)
	}
}

// 02:55: the TLP:RED note exists only in its two recipients' inboxes and
// feeds.
func (n *night) checkRedNote() {
	env := n.alert("st-mary", tocsinv1.TLP_TLP_RED)
	var where []string
	for _, stream := range []string{subjects.StreamSectors, subjects.StreamInbox} {
		n.each(stream, func(m *jetstream.RawStreamMsg) {
			if strings.HasPrefix(m.Header.Get(jetstream.MsgIDHeader), env.GetId()+":") {
				where = append(where, m.Subject)
			}
		})
	}
	slices.Sort(where)
	if want := []string{"tocsin.inbox.downtime-staffing", "tocsin.inbox.ir-firm"}; !slices.Equal(where, want) {
		n.t.Errorf("copies of the RED note on %v, want %v", where, want)
	}
	if got := n.holders(env.GetId()); !slices.Equal(got, responders) {
		n.t.Errorf("the RED note is in the feeds of %v, want %v", got, responders)
	}
}

// 03:05: the revoked member is revoked and the cluster holds nothing of
// it.
func (n *night) checkRevoked() {
	var m tocsinv1.Member
	if err := proto.Unmarshal(n.value(records.BucketMembers, "northshore-clinic"), &m); err != nil || m.GetRevokedAt() == nil {
		n.t.Errorf("northshore-clinic in the registry: revoked at %v (%v)", m.GetRevokedAt(), err)
	}
	for _, s := range n.sent {
		if s.env.GetSender() == "northshore-clinic" {
			n.t.Errorf("INGEST holds a %s from the revoked northshore-clinic", s.env.GetKind())
		}
	}
}

// 02:25: a node is down and the streams carry on without it.
func (n *night) checkNodeDown() {
	s, err := n.js.Stream(n.ctx, subjects.StreamSectors)
	if err != nil {
		n.t.Fatal(err)
	}
	c := s.CachedInfo().Cluster
	offline := 0
	for _, r := range c.Replicas {
		if r.Offline {
			offline++
		}
	}
	if c.Leader == "" || offline != 1 {
		n.t.Errorf("SECTORS: leader %q, %d replicas offline; want a leader and the one node down", c.Leader, offline)
	}
}

// Every feed: each message once, every alert and advisory verified and
// marked exercise; the late agent has what the others have.
func (n *night) checkFeeds() {
	for _, m := range sorted(patientCare, healthIT, elsewhere) {
		seen := map[string]bool{}
		for _, r := range n.feed(m) {
			if seen[r.ID] {
				n.t.Errorf("%s's feed holds %s twice", m, r.ID)
			}
			seen[r.ID] = true
			if !r.Verified || ((r.Kind == "alert" || r.Kind == "advisory") && !r.Exercise) {
				n.t.Errorf("%s's feed: %s %s verified %v exercise %v", m, r.Kind, r.ID, r.Verified, r.Exercise)
			}
		}
	}
	ids := func(m string) []string {
		var out []string
		for _, r := range n.feed(m) {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	// valley-general was offline for the alert and the advisory; hilltop
	// was not: the sector's copies are the same for both.
	if late, other := ids("valley-general"), ids("hilltop"); !slices.Equal(late, other) {
		n.t.Errorf("valley-general's feed %v differs from hilltop's %v", late, other)
	}
}
