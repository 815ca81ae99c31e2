package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/bench/reachbench"
)

// TestBenchReach runs bench reach with 40 members against 3 node
// processes in operator mode: the liaison's reach shows all 40 delivered,
// in fewer REACH writes than one per member, and the JSON and the table
// carry each figure.
func TestBenchReach(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tocsin, starts node processes")
	}
	bin := buildTocsin(t, "tocsin")
	var out, errOut bytes.Buffer
	if code := Main([]string{"bench", "reach", "--members", "40", "--binary", bin, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var keys map[string]any
	if err := json.Unmarshal(out.Bytes(), &keys); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	for _, k := range []string{"publish_to_all_delivered", "publish_to_99pct_delivered", "reach_writes", "reach_writes_old_shape", "curve", "goal_s"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("--json lacks %q: %s", k, out.String())
		}
	}
	var r reachbench.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Members != 40 || r.Delivered != 40 || r.ReportDelivered != 40 || r.ToAll <= 0 || r.To99 > r.ToAll {
		t.Fatalf("reach: %d members, %d delivered (report %d), 99%% at %s, all at %s", r.Members, r.Delivered, r.ReportDelivered, r.To99, r.ToAll)
	}
	if r.ReachWrites == 0 || r.ReachWrites >= 40 || len(r.Curve) == 0 {
		t.Fatalf("%d REACH writes for 40 receipts, %d samples", r.ReachWrites, len(r.Curve))
	}
	var table bytes.Buffer
	if err := printBenchReach(&globals{stdout: &table}, &r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"operator mode", "all delivered", "REACH writes", "goal: within 30s"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
}
