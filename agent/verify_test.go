package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// TestForgedNeverReachesASink publishes copies straight onto riverside's
// sector and inbox subjects with a raw connection, as a compromised node
// could: forged, tampered, mis-TLP'd or misaddressed copies end in the
// quarantine with their reason; the genuine ones around them reach the
// sink.
func TestForgedNeverReachesASink(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := w.start(w.agentOptions("riverside", filepath.Join(dir, "state"), j))
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))

	pc := subjects.Sector("patient-care", "routine")
	raw := func(subject string, data []byte) {
		t.Helper()
		msg := nats.NewMsg(subject)
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, envelope.NewID())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := w.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	encode := func(env *tocsinv1.Envelope) []byte {
		data, err := proto.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	sealed := func(sender string, kind tocsinv1.Kind, p proto.Message) []byte {
		env, err := w.Signers[sender].Seal(kind, p)
		if err != nil {
			t.Fatal(err)
		}
		return encode(env)
	}
	stranger := func(sender string) *envelope.Signer {
		kp, _ := nkeys.CreateUser()
		s, err := envelope.NewSigner(sender, kp)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	withTLP := func(a *tocsinv1.Alert, level tocsinv1.TLP, marking string, to ...string) *tocsinv1.Alert {
		a.Tlp, a.Recipients = level, to
		a.StixBundle = benchBundle("c2.example", marking)
		return a
	}
	want := map[string]string{} // title → reason
	bad := func(reason string, a *tocsinv1.Alert) *tocsinv1.Alert {
		a.Title = reason + " " + a.Title
		want[a.Title] = reason
		return a
	}

	// Forged: st-mary's name, a key that is not st-mary's.
	env, _ := stranger("st-mary").Seal(tocsinv1.Kind_KIND_ALERT, bad("unknown-key", alert("forged", "patient-care")))
	raw(pc, encode(env))
	// An unknown sender.
	env, _ = stranger("nobody").Seal(tocsinv1.Kind_KIND_ALERT, bad("unknown-sender", alert("stranger", "patient-care")))
	raw(pc, encode(env))
	// Tampered: genuinely signed, then the payload changed.
	env, _ = w.Signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT, bad("bad-signature", alert("tampered", "patient-care")))
	var p tocsinv1.Alert
	_ = proto.Unmarshal(env.Payload, &p)
	p.RecommendedAction = "disable the firewall"
	env.Payload, _ = proto.Marshal(&p)
	raw(pc, encode(env))
	// Mis-TLP'd: RED on a sector subject; AMBER whose bundle is marked RED.
	raw(pc, sealed("st-mary", tocsinv1.Kind_KIND_ALERT, bad(ReasonTLP, withTLP(alert("red", "patient-care"), tocsinv1.TLP_TLP_RED, tlp.MarkingRed, "riverside"))))
	raw(pc, sealed("st-mary", tocsinv1.Kind_KIND_ALERT, bad(ReasonTLP, withTLP(alert("amber marked red", "patient-care"), tocsinv1.TLP_TLP_AMBER, tlp.MarkingRed))))
	// A marking nobody knows: the TLP cannot be determined.
	raw(pc, sealed("st-mary", tocsinv1.Kind_KIND_ALERT, bad("unknown-marking", withTLP(alert("unknown marking", "patient-care"), tocsinv1.TLP_TLP_GREEN,
		"marking-definition--"+ids.V4()))))
	// Misaddressed: a pharma alert on patient-care; a flash alert on the
	// routine lane; a RED alert for lakeside in riverside's inbox.
	raw(pc, sealed("st-mary", tocsinv1.Kind_KIND_ALERT, bad(ReasonNotAddressed, alert("for pharma", "pharma"))))
	flash := bad(ReasonWrongLane, alert("flash", "patient-care"))
	flash.Lane = tocsinv1.Lane_LANE_FLASH
	raw(pc, sealed("st-mary", tocsinv1.Kind_KIND_ALERT, flash))
	raw(subjects.Inbox("riverside"), sealed("st-mary", tocsinv1.Kind_KIND_ALERT,
		bad(ReasonNotAddressed, withTLP(alert("red for lakeside"), tocsinv1.TLP_TLP_RED, tlp.MarkingRed, "lakeside-childrens"))))
	// An advisory from a member that is not the liaison.
	raw(pc, sealed("st-mary", tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "fake advisory", Lane: tocsinv1.Lane_LANE_ROUTINE,
		Tlp: tocsinv1.TLP_TLP_CLEAR, Sectors: []string{"patient-care"}}))
	// Not an envelope at all.
	raw(pc, []byte("not a protobuf envelope at all"))

	// Genuine: a RED alert naming riverside in its inbox, and a routed alert.
	raw(subjects.Inbox("riverside"), sealed("st-mary", tocsinv1.Kind_KIND_ALERT,
		withTLP(alert("red for riverside"), tocsinv1.TLP_TLP_RED, tlp.MarkingRed, "riverside")))
	good := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alert("genuine", "patient-care"))
	w.Routed("st-mary", good)

	testwait.For(t, 30*time.Second, "the genuine alerts", testwait.True(func() bool { return len(jsonlRecords(t, filepath.Join(dir, "alerts.jsonl"))) >= 2 }))
	time.Sleep(500 * time.Millisecond)
	recs := jsonlRecords(t, filepath.Join(dir, "alerts.jsonl"))
	if len(recs) != 2 || recs[0].Title != "red for riverside" || recs[0].TLP != "red" || recs[1].ID != good[0].GetId() {
		t.Fatalf("the sink holds %d records, want the RED one for riverside and the genuine one: %+v", len(recs), recs)
	}
	data, err := os.ReadFile(QuarantinePath(filepath.Join(dir, "state")))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for _, line := range lines {
		var e QuarantineEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		title := "?"
		if env, err := envelope.Decode(e.Data, 0); err == nil {
			var a tocsinv1.Alert
			var adv tocsinv1.Advisory
			if proto.Unmarshal(env.Payload, &a) == nil && a.Title != "" {
				title = a.Title
			}
			if env.Kind == tocsinv1.Kind_KIND_ADVISORY && proto.Unmarshal(env.Payload, &adv) == nil {
				title = adv.Title
			}
		} else {
			title = "garbage"
		}
		got[title] = e.Reason
	}
	want["fake advisory"] = "not-permitted"
	want["garbage"] = "malformed"
	for title, reason := range want {
		if got[title] != reason {
			t.Errorf("%q: quarantined as %q, want %q", title, got[title], reason)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d quarantined, want %d: %v", len(lines), len(want), got)
	}
	if st := a.HTTPState(); st.Quarantined != int64(len(want)) || st.Written != 2 {
		t.Errorf("state counts %d written, %d quarantined; want 2 and %d", st.Written, st.Quarantined, len(want))
	}
}
