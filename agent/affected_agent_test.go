package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/affected"
	"github.com/tocsin-project/tocsin/agent/paging/pdtest"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// tappedAgent is an agent with the test inventory whose every sent byte
// goes through a wire tap.
type tappedAgent struct {
	a    *Agent
	tap  *wireTap
	pd   *pdtest.Server
	sink string
	name string
	stop func()
}

// startTapped runs member's agent with the test inventory, a PagerDuty
// pager and a JSONL sink, connected to node 0 through a wire tap only.
func (w *world) startTapped(member string, report bool) *tappedAgent {
	t := w.t
	t.Helper()
	dir := t.TempDir()
	ta := &tappedAgent{tap: newWireTap(t, w.C.Node(0).ClientURL()), pd: pdtest.New("KEY-" + member), sink: filepath.Join(dir, "alerts.jsonl"),
		name: "tapped agent " + member}
	t.Cleanup(ta.pd.Close)
	key := filepath.Join(dir, "pd.key")
	if err := os.WriteFile(key, []byte("KEY-"+member+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{State: filepath.Join(dir, "state"), Sinks: []string{"jsonl:" + ta.sink},
		PagingConfig: PagingConfig{Pager: "pagerduty:" + ta.pd.EnqueueURL(), PagerRoutingKeyFile: key}}
	built, err := cfg.Options(zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	opts := w.agentOptions(member, cfg.State, built.Sinks...)
	opts.Pager, opts.Name = built.Pager, ta.name
	opts.Servers = ta.tap.URL()
	// Only the tap: never a node the cluster's INFO names.
	opts.NATS = append(opts.NATS, nats.IgnoreDiscoveredServers())
	opts.Inventory, opts.ReportAffected = []string{writeInventory(t, dir)}, report
	ta.a, ta.stop = w.start(opts)
	testwait.For(t, 60*time.Second, member+"'s agent to be live", testwait.True(func() bool { return ta.a.HTTPState().State == "live" }))
	if st := ta.a.HTTPState().Inventory; st == nil || st.Rows != 2 || st.Error != "" {
		t.Fatalf("%s's agent's inventory state: %+v; want its 2 rows", member, st)
	}
	return ta
}

// receipts are the receipts the agent sent, decoded from the tap.
func (ta *tappedAgent) receipts(t *testing.T) []*tocsinv1.Receipt {
	t.Helper()
	var out []*tocsinv1.Receipt
	for _, op := range ta.tap.ops() {
		if op.Op != "HPUB" && op.Op != "PUB" || !strings.HasPrefix(op.Subject, subjects.Prefix+".ingest."+subjects.KindReceipt+".") {
			continue
		}
		env, err := envelope.Decode(op.Payload, 0)
		if err != nil {
			t.Fatalf("a receipt on %s that does not decode: %v", op.Subject, err)
		}
		p, err := envelope.PayloadFor(env.GetKind())
		if err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(env.GetPayload(), p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p.(*tocsinv1.Receipt))
	}
	return out
}

// delivered are the delivered receipts' ids and whether each said
// affected; a message in two receipts (a re-send) must say the same.
func delivered(t *testing.T, rs []*tocsinv1.Receipt) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		if r.GetState() != tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED {
			if r.GetAffected() {
				t.Errorf("a %v receipt says affected", r.GetState())
			}
			continue
		}
		for _, id := range append([]string{r.GetRefId()}, r.GetMoreRefIds()...) {
			if was, ok := out[id]; ok && was != r.GetAffected() {
				t.Errorf("%s: receipts disagree on affected", id)
			}
			out[id] = r.GetAffected()
		}
	}
	return out
}

// TestACSAFAdvisoryIsMatchedOnTheMembersSideOnly: two members run agents
// with the same inventory, one with --report-affected. A CSAF advisory
// naming a device of the inventory is written with its affected row
// (where, who, status, remediation, score), one lane more urgent, and
// pages at PagerDuty's "error" although a routine advisory never pages;
// one naming no device says affected [] and neither pages nor is raised.
// Only the reporting member's delivered receipt of the matched advisory
// says affected, in a receipt of its own. And every byte either agent
// sends to the cluster, on every subject (receipts, an acknowledgement, a
// sighting, the JetStream API, the services), is read through a wire tap
// that the server confirms was the agents' only way in: no inventory value
// appears in any of it.
func TestACSAFAdvisoryIsMatchedOnTheMembersSideOnly(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"), member("harbor", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	agents := map[string]*tappedAgent{"bridge": w.startTapped("bridge", true), "harbor": w.startTapped("harbor", false)}

	advisory := func(id, vendor, product, version string) *tocsinv1.Advisory {
		return &tocsinv1.Advisory{Title: id, Lane: tocsinv1.Lane_LANE_ROUTINE, Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_CLEAR,
			RecommendedAction: "update", CsafDocument: csafDoc(t, id, vendor, product, version)}
	}
	envs := w.Publish("hhs-liaison", tocsinv1.Kind_KIND_ADVISORY, advisory("HHS-T-1", invVendor, invProduct, invVersion),
		advisory("HHS-T-2", "Vorpaline Devices", "Lumigraft Monitor", "1.0"))
	w.Routed("hhs-liaison", envs)
	matched, other := envs[0].GetId(), envs[1].GetId()
	al := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, alert("routine alert", "patient-care"))
	w.Routed("st-mary", al)

	for name, ta := range agents {
		var recs map[string]Record
		testwait.For(t, 60*time.Second, "the three messages in "+name+"'s JSONL file", testwait.True(func() bool {
			recs = map[string]Record{}
			for _, r := range jsonlRecords(t, ta.sink) {
				recs[r.ID] = r
			}
			return len(recs) == 3
		}))
		m := recs[matched]
		if m.Kind != KindCSAFAdvisory || m.Lane != "routine" || m.Severity != "high" || len(m.Affected) != 1 {
			t.Fatalf("%s: the matched advisory: kind %s lane %s severity %s affected %+v", name, m.Kind, m.Lane, m.Severity, m.Affected)
		}
		f := m.Affected[0]
		if f.Row.Location != invLocation || f.Row.Owner != invOwner || f.Row.Serial != invSerial || f.Row.Version != invVersion ||
			f.ProductID != "CSAFPID-0001" || f.Status != affected.KnownAffected || f.Score != 9.8 || len(f.Remediations) != 1 ||
			f.Remediations[0].Category != "vendor_fix" || !slices.Equal(f.CVEs, []string{"CVE-2026-0001"}) {
			t.Errorf("%s: the finding %+v", name, f)
		}
		if o := recs[other]; o.Affected == nil || len(o.Affected) != 0 || o.Severity != "medium" {
			t.Errorf("%s: the advisory naming no device: affected %v severity %s", name, o.Affected, o.Severity)
		}
		if a := recs[al[0].GetId()]; a.Affected != nil {
			t.Errorf("%s: an alert has affected %v", name, a.Affected)
		}
		// The page: the matched advisory only, one lane up.
		testwait.For(t, 30*time.Second, name+"'s page", testwait.True(func() bool { return len(ta.pd.Events()) >= 1 }))
		evs := ta.pd.Events()
		if len(evs) != 1 || evs[0].DedupKey != matched || evs[0].Payload.Severity != "error" || evs[0].Payload.CustomDetails["affected"] != "1" {
			t.Errorf("%s: PagerDuty got %+v; want one trigger of %s at severity error, affected 1", name, evs, matched)
		}
		// An acknowledgement and a sighting go through the tap too.
		if _, err := ta.a.Receipt(matched, tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED, "pump taken off the network"); err != nil {
			t.Fatal(err)
		}
		if _, err := ta.a.Sighting(&tocsinv1.Sighting{IndicatorId: recs[al[0].GetId()].Indicators[0].STIXID, Count: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for name, ta := range agents {
		testwait.For(t, 60*time.Second, name+"'s receipts and sighting sent", testwait.True(func() bool {
			d := delivered(t, ta.receipts(t))
			_, m := d[matched]
			_, o := d[other]
			_, a := d[al[0].GetId()]
			sightings := 0
			for _, op := range ta.tap.ops() {
				if strings.HasPrefix(op.Subject, subjects.Prefix+".ingest."+subjects.KindSighting+".") {
					sightings++
				}
			}
			acked := slices.ContainsFunc(ta.receipts(t), func(r *tocsinv1.Receipt) bool {
				return r.GetState() == tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED && r.GetRefId() == matched
			})
			return m && o && a && acked && sightings > 0 && ta.a.HTTPState().Outbox == 0
		}))
		ta.stop() // what a stopping agent sends is read too
	}

	// Only bridge reported, and only the matched advisory; in a receipt of
	// its own.
	for name, ta := range agents {
		d := delivered(t, ta.receipts(t))
		want := map[string]bool{matched: name == "bridge", other: false, al[0].GetId(): false}
		for id, w := range want {
			if d[id] != w {
				t.Errorf("%s: the delivered receipt of %s says affected %v, want %v", name, id, d[id], w)
			}
		}
		for _, r := range ta.receipts(t) {
			if r.GetAffected() && (r.GetRefId() != matched || len(r.GetMoreRefIds()) != 0) {
				t.Errorf("%s: a receipt saying affected covers %s and %v", name, r.GetRefId(), r.GetMoreRefIds())
			}
		}
	}

	// Privacy: the tap was the agents' only way in, and nothing of the
	// inventory went through it.
	values := inventoryValues()
	for _, v := range inventoryValues() {
		for _, word := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ':' || r == '/' || r == '@' || r == ',' }) {
			if len(word) >= 6 && !slices.Contains([]string{"Medical", "Infusion", "Analyzer", "st-mary.example", "generic"}, word) {
				values = append(values, word)
			}
		}
	}
	for name, ta := range agents {
		ports := ta.tap.upstreamPorts()
		seen := 0
		// A connection just closed is for a moment in neither the server's
		// open nor its closed list: poll.
		testwait.For(t, 10*time.Second, "the server's record of "+name+"'s connections", func() error {
			seen = 0
			for _, n := range w.C.Nodes() {
				cz, err := n.Server().Connz(&server.ConnzOptions{State: server.ConnAll, Limit: 100000})
				if err != nil {
					return err
				}
				for _, c := range cz.Conns {
					if !strings.HasPrefix(c.Name, ta.name+" ") {
						continue
					}
					seen++
					if c.IP != "127.0.0.1" || !ports[c.Port] {
						t.Errorf("%s's agent reached %s from %s:%d, not through the tap (its ports %v)", name, n.Name(), c.IP, c.Port, ports)
					}
				}
			}
			if seen == 0 {
				return fmt.Errorf("no connection of %s's agent listed", name)
			}
			return nil
		})
		sent := ta.tap.bytesSent()
		ops := ta.tap.ops()
		subjectsSeen := map[string]bool{}
		for _, op := range ops {
			if op.Op == "PUB" || op.Op == "HPUB" {
				subjectsSeen[strings.Join(strings.Split(op.Subject, ".")[:min(3, strings.Count(op.Subject, ".")+1)], ".")] = true
			}
		}
		t.Logf("%s: %d connections through the tap, %d bytes sent in %d operations; published on %v", name, seen, len(sent), len(ops), keys(subjectsSeen))
		if seen == 0 || len(ops) == 0 {
			t.Fatalf("%s: the server saw %d connections of the agent, the tap %d operations", name, seen, len(ops))
		}
		for _, leak := range ta.tap.leaks(values) {
			t.Errorf("%s's agent sent an inventory value: %s", name, leak)
		}
	}
	// The check finds a value when one is sent: the tap reads the payloads.
	if leaks := agents["bridge"].tap.leaks([]string{"pump taken off the network"}); len(leaks) != 1 {
		t.Fatalf("the acknowledgement's note is not found in what the agent sent (%v): the tap does not see the payloads", leaks)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
