package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/reach"
)

// TestReachOfAnAdvisory: 20 members, an advisory to two sectors; ten run
// an agent (delivered), some of those acknowledge or act, one without an
// agent acknowledges by hand. Reach shows exactly that, per sector.
func TestReachOfAnAdvisory(t *testing.T) {
	cast := []*tocsinv1.Member{member("hhs", tocsinv1.Role_ROLE_LIAISON, "federal")}
	var ids []string
	for i := range 19 {
		sector := "patient-care"
		if i%3 == 2 {
			sector = "health-it"
		}
		id := fmt.Sprintf("org-%02d", i)
		ids = append(ids, id)
		cast = append(cast, member(id, tocsinv1.Role_ROLE_MEMBER, sector))
	}
	cast = append(cast, member("pharma-co", tocsinv1.Role_ROLE_MEMBER, "pharma")) // not addressed
	w := newWorldOf(t, cast)
	withAgent, acks, actions := ids[:10], ids[:4], ids[:2]
	manual := ids[12]
	agents := map[string]*Agent{}
	for _, id := range withAgent {
		dir := t.TempDir()
		j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
		if err != nil {
			t.Fatal(err)
		}
		agents[id], _ = w.start(w.agentOptions(id, filepath.Join(dir, "state"), j))
	}
	adv := &tocsinv1.Advisory{Title: "Block these indicators; patch the VPN appliance", Lane: tocsinv1.Lane_LANE_URGENT,
		Sectors: []string{"patient-care", "health-it"}, Tlp: tocsinv1.TLP_TLP_AMBER, RecommendedAction: "patch now"}
	env := w.Publish("hhs", tocsinv1.Kind_KIND_ADVISORY, adv)[0]
	w.Routed("hhs", []*tocsinv1.Envelope{env})
	for _, id := range withAgent {
		a := agents[id]
		testwait.For(t, 30*time.Second, id+" to write the advisory", testwait.True(func() bool { return len(a.recent.last(1)) == 1 }))
		if r := a.recent.last(1)[0]; r.ID != env.GetId() || r.Kind != "advisory" || r.Sender != "hhs" || !r.Verified || r.TLP != "amber" {
			t.Fatalf("%s wrote %+v, want the liaison's verified advisory", id, r)
		}
	}
	for _, id := range acks {
		state := tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED
		if slices.Contains(actions, id) {
			state = tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED
		}
		if _, err := agents[id].Receipt(env.GetId(), state, "blocked at the perimeter"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := client.Connect(ctx, client.Options{Servers: w.C.ClientURL(), CredsFile: w.Creds[manual]})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Publish(ctx, tocsinv1.Kind_KIND_RECEIPT, NewReceipt(env.GetId(), tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED, "")); err != nil {
		t.Fatal(err)
	}
	liaison, err := client.Connect(ctx, client.Options{Servers: w.C.ClientURL(), CredsFile: w.Creds["hhs"]})
	if err != nil {
		t.Fatal(err)
	}
	defer liaison.Close()

	delivered := append(slices.Clone(withAgent), manual)
	acknowledged := append(slices.Clone(acks), manual)
	var rep *reach.Report
	testwait.For(t, 60*time.Second, "every receipt in the reach report", testwait.True(func() bool {
		rep, err = reach.Of(ctx, liaison, env.GetId())
		return err == nil && rep.Delivered == len(delivered) && rep.Acknowledged == len(acknowledged) && rep.Actioned == len(actions)
	}))
	if rep.Organisations != 19 || len(rep.Sectors) != 2 || rep.TLP != "amber" {
		t.Fatalf("report: %d organisations in %d sectors, TLP %q; want 19 in 2, amber", rep.Organisations, len(rep.Sectors), rep.TLP)
	}
	for _, s := range rep.Sectors {
		var notYet []string
		for _, m := range s.Members {
			in := func(set []string) bool { return slices.Contains(set, m.Member) }
			if in(delivered) == m.Delivered.IsZero() || in(acknowledged) == m.Acknowledged.IsZero() || in(actions) == m.Actioned.IsZero() {
				t.Errorf("%s in %s: delivered %v, acknowledged %v, actioned %v", m.Member, s.Sector, m.Delivered, m.Acknowledged, m.Actioned)
			}
			if !in(delivered) {
				notYet = append(notYet, m.Member)
			}
			if m.Member == "pharma-co" || m.Member == "hhs" {
				t.Errorf("%s is listed under %s", m.Member, s.Sector)
			}
		}
		if !slices.Equal(notYet, s.NotYet) || len(s.NotYet) == 0 {
			t.Errorf("%s: not yet %v, want %v", s.Sector, s.NotYet, notYet)
		}
	}
	if _, err := reach.Of(ctx, liaison, "01J0000000000000000000NONE"); err == nil {
		t.Fatal("reach of a message the liaison never sent must fail")
	}
}
