package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/testworld"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/reach"
)

// TestAckAndReach: the liaison's advisory, acknowledged by one hospital
// and actioned by another with `tocsin ack`, shows in `tocsin reach`; a
// sighting is sent with `tocsin sighting report`.
func TestAckAndReach(t *testing.T) {
	w := testworld.Start(t, []*tocsinv1.Member{
		testworld.Member("hhs", tocsinv1.Role_ROLE_LIAISON, "federal"),
		testworld.Member("st-mary", tocsinv1.Role_ROLE_MEMBER, "patient-care"),
		testworld.Member("riverside", tocsinv1.Role_ROLE_MEMBER, "patient-care"),
		testworld.Member("hilltop", tocsinv1.Role_ROLE_MEMBER, "patient-care"),
	}, runAgentService)
	adv := publishAdvisory(w, "hhs", "patient-care")
	server := "--server=" + w.C.ClientURL()
	if code, out := run(t, "ack", server, "--creds", w.Creds["st-mary"], adv.GetId()); code != ExitOK || !strings.Contains(out, "acknowledged "+adv.GetId()) {
		t.Fatalf("ack: exit %d, %q", code, out)
	}
	if code, out := run(t, "ack", server, "--creds", w.Creds["riverside"], "--actioned", "--note", "patched", adv.GetId()); code != ExitOK {
		t.Fatalf("ack --actioned: exit %d, %q", code, out)
	}
	var rep reach.Report
	testwait.For(t, 30*time.Second, "reach showing both receipts", func() error {
		code, out := run(t, "reach", server, "--creds", w.Creds["hhs"], "--json", adv.GetId())
		if code != ExitOK {
			t.Fatalf("reach: exit %d, %q", code, out)
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("reach --json: %v: %q", err, out)
		}
		if rep.Acknowledged == 2 && rep.Actioned == 1 {
			return nil
		}
		return fmt.Errorf("%+v", rep)
	})
	s := rep.Sectors[0]
	if rep.Organisations != 3 || s.Sector != "patient-care" || len(s.NotYet) != 1 || s.NotYet[0] != "hilltop" {
		t.Fatalf("report %+v", rep)
	}
	code, out := run(t, "reach", server, "--creds", w.Creds["hhs"], adv.GetId())
	for _, want := range []string{"patient-care: 2 of 3 delivered, 2 acknowledged, 1 actioned", "not yet: hilltop", "riverside"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("reach table: exit %d, want %q in:\n%s", code, want, out)
		}
	}
	if code, out := run(t, "reach", server, "--creds", w.Creds["st-mary"], adv.GetId()); code != ExitRejected {
		t.Errorf("reach of someone else's advisory: exit %d, %q; want %d", code, out, ExitRejected)
	}
	if code, out := run(t, "sighting", "report", server, "--creds", w.Creds["hilltop"], "--indicator", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"--count", "3"); code != ExitOK || !strings.Contains(out, "sighting of indicator--8e2e2d2b") {
		t.Errorf("sighting report: exit %d, %q", code, out)
	}
	if code, out := run(t, "ack", "--server=nats://127.0.0.1:1", "--timeout=1s", "--creds", w.Creds["st-mary"], adv.GetId()); code != ExitUnreachable {
		t.Errorf("ack with the cluster out of reach: exit %d, %q; want %d", code, out, ExitUnreachable)
	}
}
