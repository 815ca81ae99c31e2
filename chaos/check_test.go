package chaos

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkCase is a small run on paper: two agents, one publisher, five
// acknowledged alerts and one never acknowledged.
func checkCase() CheckInput {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	green := Spec{TLP: "green", Lane: "urgent", Sectors: []string{"patient-care"}}
	pharma := Spec{TLP: "green", Lane: "urgent", Sectors: []string{"pharma"}}
	var pub []*Published
	for i, s := range []Spec{green, green, green, pharma, green, green} {
		p := &Published{Publisher: "pub-1", N: i + 1, ID: string(rune('a' + i)), Spec: s, Attempted: t0.Add(time.Duration(i) * time.Second)}
		if i != 5 {
			p.Acked = p.Attempted.Add(10 * time.Millisecond)
		}
		pub = append(pub, p)
	}
	line := func(id string) SinkLine {
		return SinkLine{ID: id, Kind: "alert", Sender: "pub-1", Verified: true, TLP: "green", Lane: "urgent"}
	}
	return CheckInput{
		Published: pub,
		Agents:    []AgentSpec{{Member: "agt-1", Sectors: []string{"patient-care"}}, {Member: "agt-4", Sectors: []string{"pharma"}}},
		Phases:    []*Phase{{Fault: "none", Start: t0, RecoverySeconds: 1}, {Fault: FaultKill, Start: t0.Add(2500 * time.Millisecond), RecoverySeconds: 3}},
		Outcomes:  map[string]string{"a": "routed", "b": "routed", "c": "routed", "d": "routed", "e": "routed"},
		Sinks: map[string][]SinkLine{
			"agt-1": {line("a"), line("c"), line("e"), line("f")},
			"agt-4": {line("d")},
		},
	}
}

// The checker counts what is right as delivered and finds nothing wrong.
func TestCheckCleanRun(t *testing.T) {
	in := checkCase()
	in.Sinks["agt-1"] = append(in.Sinks["agt-1"], line2(in, "b"))
	in.Sinks["agt-4"][0].Received = in.Published[3].Acked.Add(2 * time.Second)
	in.SlowAfter = time.Second
	res := Check(in)
	tot := res.Total
	if tot.Operations != 6 || tot.Acknowledged != 5 || tot.Expected != 5 || tot.Delivered != 5 || tot.Lost+tot.Duplicates+tot.Unexpected+tot.NotRouted != 0 {
		t.Fatalf("clean run judged %+v", tot)
	}
	if res.Total.DeliveryMaxSeconds != 2 || res.Table[1].DeliveryMaxSeconds != 2 {
		t.Fatalf("delivery max %v (kill %v), want the 2s of d", res.Total.DeliveryMaxSeconds, res.Table[1].DeliveryMaxSeconds)
	}
	if res.SlowCount != 1 || res.Slow[0].ID != "d" {
		t.Fatalf("slow deliveries %d %+v, want d (2s, over 1s)", res.SlowCount, res.Slow)
	}
	if res.DeliveredUnacked != 1 {
		t.Fatalf("the unacknowledged f written: %d, want 1 (allowed, counted)", res.DeliveredUnacked)
	}
	if len(res.Table) != 2 || res.Table[1].Fault != FaultKill || res.Table[1].Operations != 3 || res.Table[1].RecoverySeconds != 3 {
		t.Fatalf("table %+v: want the baseline and kill (alerts c to f)", res.Table)
	}
}

func line2(in CheckInput, id string) SinkLine {
	l := in.Sinks["agt-1"][0]
	l.ID = id
	return l
}

// A lost alert in the middle is a loss and a gap; a line written twice is
// a duplicate; an alert at the wrong agent, one never published and one
// with the wrong TLP are unexpected; an alert without a routed outcome is
// not routed.
func TestCheckFindsEveryKindOfWrong(t *testing.T) {
	in := checkCase()
	in.Sinks["agt-1"] = append(in.Sinks["agt-1"], line2(in, "a"), line2(in, "zz"))
	in.Sinks["agt-4"] = append(in.Sinks["agt-4"], line2(in, "c"))
	amber := line2(in, "e")
	amber.TLP = "amber"
	in.Sinks["agt-1"][2] = amber
	delete(in.Outcomes, "e")
	res := Check(in)
	tot := res.Total
	want := Row{Fault: "total", Injections: 2, Operations: 6, Acknowledged: 5, Expected: 5, Delivered: 4, Lost: 1, Duplicates: 1, Unexpected: 3, NotRouted: 1, RecoverySeconds: 3}
	if tot != want {
		t.Fatalf("total\n got %+v\nwant %+v", tot, want)
	}
	if res.GapCount != 1 || res.Gaps[0].ID != "b" {
		t.Fatalf("gaps %+v: want b, missing while c and e were written", res.Gaps)
	}
	if res.Lost[0].ID != "b" || res.Lost[0].Agent != "agt-1" || res.Lost[0].Phase != "none" {
		t.Fatalf("lost %+v", res.Lost)
	}
	var details []string
	for _, f := range res.Unexpected {
		details = append(details, f.ID+": "+f.Detail)
	}
	got := strings.Join(details, "\n")
	for _, s := range []string{"zz: alert from pub-1 was never published", "c: green urgent alert to [patient-care][] reached an agent of [pharma]", "e: written as amber/urgent"} {
		if !strings.Contains(got, s) {
			t.Errorf("unexpected findings lack %q:\n%s", s, got)
		}
	}
}

// Deliveries are counted by path: agt-4 reads at its site and d was
// published at a site, so the paper run has hub → hub agent (a to e at
// agt-1, b lost), site → site agent (d) and nothing else; a repeat at a
// site agent counts on its path.
func TestCheckCountsEveryPath(t *testing.T) {
	in := checkCase()
	in.Agents[1].Site = true
	in.Published[3].Via = viaSite
	in.Sinks["agt-4"] = append(in.Sinks["agt-4"], in.Sinks["agt-4"][0])
	res := Check(in)
	want := []PathRow{{Path: "hub → hub agent", Expected: 4, Delivered: 3, Lost: 1}, {Path: "site → site agent", Expected: 1, Delivered: 1, Duplicates: 1}}
	if !slices.Equal(res.Paths, want) {
		t.Fatalf("paths\n got %+v\nwant %+v", res.Paths, want)
	}
}

// A sink is read once per line across polls, through rotation, and a torn
// last line waits for its end.
func TestSinkReaderFollowsRotationAndTornLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agt.jsonl")
	write := func(p, s string) {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	r := newSinkReader(path)
	write(path, `{"id":"a"}`+"\n"+`{"id":"b"`)
	if err := r.Poll(); err != nil {
		t.Fatal(err)
	}
	if !r.Has("a") || r.Has("b") {
		t.Fatal("want a read and the torn b not yet")
	}
	write(path, "}\n")
	if err := os.Rename(path, path+".20260101T000000Z"); err != nil {
		t.Fatal(err)
	}
	write(path, `{"id":"c"}`+"\n")
	if err := r.Poll(); err != nil {
		t.Fatal(err)
	}
	if err := r.Poll(); err != nil {
		t.Fatal(err)
	}
	lines, junk := r.Lines()
	if len(lines) != 3 || len(junk) != 0 || !r.Has("b") || !r.Has("c") {
		t.Fatalf("after rotation: %d lines %v, junk %v; want a, b, c once each", len(lines), lines, junk)
	}
}
