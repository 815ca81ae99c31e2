package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/examples"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/testworld"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/reach"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestAckByEchoesAndTheLiaisonCallsWhoHasNot: `tocsin ack --by` is
// echoed to both of st-mary's connections and to no other member's inbox;
// the liaison's `tocsin reach` shows who acknowledged and, for each member
// that has not, its 24/7 contact from the registry; the liaison, a member
// of the advisory's sector itself, is not counted as its own recipient. A
// --by over 128 bytes is a usage error.
func TestAckByEchoesAndTheLiaisonCallsWhoHasNot(t *testing.T) {
	hhs := testworld.Member("hhs", tocsinv1.Role_ROLE_LIAISON, "federal", "patient-care")
	stMary := testworld.Member("st-mary", tocsinv1.Role_ROLE_MEMBER, "patient-care")
	riverside := testworld.Member("riverside", tocsinv1.Role_ROLE_MEMBER, "patient-care")
	stMary.Contact, riverside.Contact = "SOC +1-555-0101", "Hotline 24/7 +1-555-0150"
	w := testworld.Start(t, []*tocsinv1.Member{hhs, stMary, riverside,
		testworld.Member("hilltop", tocsinv1.Role_ROLE_MEMBER, "patient-care")}, runAgentService)
	adv := publishAdvisory(w, "hhs", "patient-care")
	server := "--server=" + w.C.ClientURL()

	inbox := func(member string) chan *nats.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl, err := client.Connect(ctx, client.Options{Servers: w.C.ClientURL(), CredsFile: w.Creds[member]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		ch := make(chan *nats.Msg, 8)
		if _, err := cl.Conn().ChanSubscribe(subjects.Inbox(member), ch); err != nil {
			t.Fatal(err)
		}
		if err := cl.Conn().Flush(); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	first, second, other := inbox("st-mary"), inbox("st-mary"), inbox("riverside")

	if code, out := run(t, "ack", server, "--creds", w.Creds["st-mary"], "--by", strings.Repeat("x", 129), adv.GetId()); code != ExitUsage || !strings.Contains(out, "at most 128 bytes") {
		t.Fatalf("ack --by of 129 bytes: exit %d, %q; want %d", code, out, ExitUsage)
	}
	code, out := run(t, "ack", server, "--creds", w.Creds["st-mary"], "--by", "J. Ortiz, SOC lead", adv.GetId())
	if code != ExitOK || !strings.Contains(out, "acknowledged "+adv.GetId()+" by J. Ortiz, SOC lead") {
		t.Fatalf("ack --by: exit %d, %q", code, out)
	}
	for name, ch := range map[string]chan *nats.Msg{"first": first, "second": second} {
		select {
		case m := <-ch:
			env, err := envelope.Decode(m.Data, 0)
			var rc tocsinv1.Receipt
			if err == nil {
				err = proto.Unmarshal(env.GetPayload(), &rc)
			}
			if err != nil || env.GetKind() != tocsinv1.Kind_KIND_RECEIPT || env.GetSender() != "st-mary" || rc.GetRefId() != adv.GetId() || rc.GetBy() != "J. Ortiz, SOC lead" {
				t.Fatalf("%s connection of st-mary: %v %v from %s: %v", name, err, env.GetKind(), env.GetSender(), &rc)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s connection of st-mary: no echo of the ack", name)
		}
	}
	select {
	case m := <-other:
		t.Fatalf("riverside's inbox got %s", m.Subject)
	case <-time.After(200 * time.Millisecond):
	}

	var rep reach.Report
	testwait.For(t, 30*time.Second, "the liaison's reach with the ack", func() error {
		code, out := run(t, "reach", server, "--creds", w.Creds["hhs"], "--json", adv.GetId())
		if code != ExitOK {
			t.Fatalf("reach: exit %d, %q", code, out)
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("reach --json: %v: %q", err, out)
		}
		if rep.Acknowledged == 1 {
			return nil
		}
		return fmt.Errorf("%+v", rep)
	})
	rows := map[string]reach.Member{}
	for _, m := range rep.Sectors[0].Members {
		rows[m.Member] = m
	}
	if rep.Organisations != 3 || len(rows) != 3 || rows["hhs"].Member != "" {
		t.Fatalf("the liaison counts in its own advisory's reach, or a member is missing: %+v", rep)
	}
	if r := rows["st-mary"]; r.By != "J. Ortiz, SOC lead" || r.Contact != "" {
		t.Errorf("st-mary (acknowledged): %+v, want by J. Ortiz and no contact", r)
	}
	if r := rows["riverside"]; r.Contact != "Hotline 24/7 +1-555-0150" || rows["hilltop"].Contact != "" || rep.ContactsError != "" {
		t.Errorf("riverside %+v, hilltop %+v, contacts error %q", r, rows["hilltop"], rep.ContactsError)
	}
	code, out = run(t, "reach", server, "--creds", w.Creds["hhs"], adv.GetId())
	for _, want := range []string{"J. Ortiz, SOC lead", "not acknowledged, to call:", "riverside  Hotline 24/7 +1-555-0150", "hilltop    (no contact in the registry)"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("reach table: exit %d, want %q in:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "SOC +1-555-0101") {
		t.Errorf("reach shows the contact of a member that acknowledged:\n%s", out)
	}
}

// TestOnlyALiaisonGetsContacts: the agent service refuses a contacts
// request on the subject of a member that is not a liaison (permissions
// forbid that subject too: auth's enforcement table), and a non-liaison's
// reach of its own alert has no contacts.
func TestOnlyALiaisonGetsContacts(t *testing.T) {
	stMary := testworld.Member("st-mary", tocsinv1.Role_ROLE_MEMBER, "patient-care")
	riverside := testworld.Member("riverside", tocsinv1.Role_ROLE_MEMBER, "patient-care")
	riverside.Contact = "Hotline 24/7 +1-555-0150"
	w := testworld.Start(t, []*tocsinv1.Member{testworld.Member("hhs", tocsinv1.Role_ROLE_LIAISON, "federal"), stMary, riverside}, runAgentService)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := client.Connect(ctx, client.Options{Servers: w.C.ClientURL(), CredsFile: w.Creds["st-mary"]})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := records.FetchContacts(ctx, cl.Conn(), "st-mary", []string{"riverside"}); err == nil || !strings.Contains(err.Error(), "st-mary is not an active liaison") {
		t.Fatalf("contacts asked as st-mary: %v, want refused", err)
	}
	hhs, err := client.Connect(ctx, client.Options{Servers: w.C.ClientURL(), CredsFile: w.Creds["hhs"]})
	if err != nil {
		t.Fatal(err)
	}
	defer hhs.Close()
	if got, err := records.FetchContacts(ctx, hhs.Conn(), "hhs", []string{"riverside", "st-mary", "nobody"}); err != nil || len(got) != 1 || got["riverside"] != riverside.Contact {
		t.Fatalf("contacts asked as the liaison: %v %v", got, err)
	}
	bundle, err := examples.FS.ReadFile("st-mary-ransomware.json")
	if err != nil {
		t.Fatal(err)
	}
	alert := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "ransomware via vendor VPN", Lane: tocsinv1.Lane_LANE_URGENT,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: bundle})
	w.Routed("st-mary", alert)
	rep, err := reach.Of(ctx, cl, alert[0].GetId())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sectors) != 1 || len(rep.Sectors[0].Members) != 1 || rep.Sectors[0].Members[0].Member != "riverside" {
		t.Fatalf("st-mary's alert: %+v, want riverside only (the sender is not its own recipient)", rep)
	}
	if c := rep.Sectors[0].Members[0].Contact; c != "" || rep.ContactsError != "" {
		t.Fatalf("a member's reach shows contact %q (error %q)", c, rep.ContactsError)
	}
}
