package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/reach"
)

// TestReachOfAMembersOwnAlertAndRedNote, on a dev cluster (operator mode,
// each member's own account and permissions): a hospital, not the liaison,
// sees with `tocsin reach` who acknowledged its alert and its RED note;
// another member asking for the reach of them is refused with exit 2 and
// the reason (not a permission error and a timeout, exit 4).
func TestReachOfAMembersOwnAlertAndRedNote(t *testing.T) {
	d := startDevCluster(t)
	creds := func(id string) string { return filepath.Join(d.data, "creds", id+".creds") }
	example := func(name string) string { return filepath.Join("..", "..", "..", "examples", name) }
	publish := func(args ...string) publishResult {
		var res publishResult
		out := d.must(append([]string{"alert", "publish", "--creds", creds("st-mary"), "--wait", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Outcome != "routed" {
			t.Fatalf("alert publish %v: %+v %v", args, res, err)
		}
		return res
	}
	alert := publish("--file", example("st-mary-ransomware.json"), "--tlp", "amber", "--sectors", "patient-care", "--title", "ransomware via vendor VPN")
	red := publish("--file", example("st-mary-red-note.json"), "--tlp", "red", "--to", "ir-firm", "--title", "the vendor account used")
	d.must("ack", "--creds", creds("riverside"), alert.ID)
	d.must("ack", "--creds", creds("ir-firm"), red.ID)
	reachOf := func(id string) reach.Report {
		var rep reach.Report
		testwait.For(t, 30*time.Second, "st-mary's reach of "+id+" showing one acknowledgement", func() error {
			code, out, errOut := d.cli("reach", "--creds", creds("st-mary"), "--json", id)
			if code != ExitOK {
				t.Fatalf("reach of st-mary's own %s: exit %d\n%s%s", id, code, out, errOut)
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("reach --json: %v: %q", err, out)
			}
			if rep.Acknowledged == 1 {
				return nil
			}
			return fmt.Errorf("%+v", rep)
		})
		return rep
	}
	rep := reachOf(alert.ID)
	acked := map[string]bool{}
	for _, m := range rep.Sectors[0].Members {
		acked[m.Member] = !m.Acknowledged.IsZero()
	}
	if len(rep.Sectors) != 1 || rep.Sectors[0].Sector != "patient-care" || !acked["riverside"] || acked["hilltop"] || len(acked) != rep.Organisations {
		t.Errorf("the alert's reach: %+v, want patient-care without st-mary, riverside acknowledged", rep)
	}
	if rep := reachOf(red.ID); rep.Organisations != 1 || rep.TLP != "red" || len(rep.Sectors) != 0 || len(rep.Recipients) != 1 ||
		rep.Recipients[0].Member != "ir-firm" || rep.Recipients[0].Acknowledged.IsZero() {
		t.Errorf("the RED note's reach: %+v, want ir-firm alone, acknowledged", rep)
	}
	out := d.must("reach", "--creds", creds("st-mary"), red.ID)
	for _, want := range []string{"TLP:RED", "1 organisations, 1 delivered, 1 acknowledged", "direct recipients", "ir-firm"} {
		if !strings.Contains(out, want) {
			t.Errorf("reach table: want %q in:\n%s", want, out)
		}
	}
	for _, who := range []string{"riverside", "ir-firm"} {
		for _, id := range []string{alert.ID, red.ID} {
			code, out, errOut := d.cli("reach", "--creds", creds(who), id)
			if code != ExitRejected || !strings.Contains(errOut, "reach shows the messages you sent") || strings.Contains(out+errOut, "ermission") {
				t.Errorf("%s asks the reach of st-mary's %s: exit %d, want %d and the reason\n%s%s", who, id, code, ExitRejected, out, errOut)
			}
		}
	}
}
