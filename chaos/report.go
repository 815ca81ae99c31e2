package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/subjects"
)

// Report is a run's result: the summary table per fault, every finding,
// the bad-input campaign, and whether the run passed.
type Report struct {
	// Sync is the nodes' sync_interval.
	Sync string `json:"sync"`
	Seed int64  `json:"seed"`
	// Duration is how long faults were injected (Options.Duration).
	Duration string `json:"duration"`
	// SlowDelivery is Options.SlowDelivery.
	SlowDelivery string      `json:"slow_delivery"`
	Started      time.Time   `json:"started"`
	Finished     time.Time   `json:"finished"`
	Agents       []AgentSpec `json:"agents"`
	Publishers   int         `json:"publishers"`
	// Regions is set for a regions run (Options.Regions).
	Regions bool `json:"regions,omitempty"`
	// Sites are the members that ran a site.
	Sites  []string `json:"sites,omitempty"`
	Rate   float64  `json:"rate_per_publisher"`
	Phases []*Phase `json:"phases"`
	CheckResult
	// DrainSeconds is how long the final drain took after the last heal
	// (-1: not caught up within Options.Drain).
	DrainSeconds float64         `json:"drain_seconds"`
	BadInput     *BadInputReport `json:"bad_input,omitempty"`
	// Refused are rejections sent to the legitimate publishers: none is
	// expected (a retry is deduplicated by JetStream, not refused).
	Refused []Finding `json:"refused_legitimate,omitempty"`
	// Crashes are node or agent exits the harness did not cause.
	Crashes []string `json:"crashes,omitempty"`
	// Notes are observations that do not fail the run.
	Notes []string `json:"notes,omitempty"`
	// Failures say why the run failed; empty when it passed.
	Failures []string `json:"failures,omitempty"`
	// Dir is the run's directory (logs, sinks, publisher logs).
	Dir string `json:"dir"`
}

// Passed reports whether the run found nothing wrong.
func (r *Report) Passed() bool { return len(r.Failures) == 0 }

// judge fills Failures.
func (r *Report) judge(faults []string) {
	t := r.Total
	add := func(cond bool, format string, v ...any) {
		if cond {
			r.Failures = append(r.Failures, fmt.Sprintf(format, v...))
		}
	}
	add(t.Lost > 0, "%d acknowledged deliveries lost (%d in the middle of a publisher's order)", t.Lost, r.GapCount)
	add(t.Duplicates > 0, "%d deliveries written twice to one sink", t.Duplicates)
	add(t.Unexpected > 0, "%d unexpected deliveries", t.Unexpected)
	add(t.NotRouted > 0, "%d acknowledged alerts not routed", t.NotRouted)
	if r.SlowCount > 0 && r.Slowest != nil {
		add(true, "%d deliveries slower than %s after their PubAck (the slowest: %s, %s to %s, %s)", r.SlowCount, r.SlowDelivery,
			r.Slowest.Phase, r.Slowest.Publisher, r.Slowest.Agent, r.Slowest.Detail)
	}
	add(len(r.Refused) > 0, "%d rejections sent to legitimate publishers", len(r.Refused))
	add(len(r.Crashes) > 0, "%d unexpected process exits: %s", len(r.Crashes), strings.Join(r.Crashes, "; "))
	if r.BadInput != nil {
		add(r.BadInput.FailureCount > 0, "%d pieces of bad input not handled as they must be", r.BadInput.FailureCount)
	}
	injected := map[string]bool{}
	for _, ph := range r.Phases {
		if ph.Err == "" {
			injected[ph.Fault] = true
		} else {
			r.Failures = append(r.Failures, fmt.Sprintf("fault %s: %s", ph.Fault, ph.Err))
		}
	}
	for _, f := range faults {
		add(!injected[f], "fault %s was never injected", f)
	}
}

// check reads the run's files and judges them.
func (w *world) check(ctx context.Context, phases []*Phase, bad *campaign) (*Report, error) {
	r := &Report{Sync: w.opts.Sync, Seed: w.opts.Seed, Duration: w.opts.Duration.String(), SlowDelivery: w.opts.SlowDelivery.String(), Publishers: len(w.pubs),
		Rate: w.opts.Rate, Phases: phases, Dir: w.opts.Dir, Regions: w.opts.Regions}
	for _, s := range w.sites {
		r.Sites = append(r.Sites, s.member)
	}
	paths, err := filepath.Glob(filepath.Join(w.opts.Dir, "publishers", "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if bad != nil {
		paths = append(paths, strings.TrimSuffix(bad.path, ".jsonl")+"-originals.jsonl")
	}
	published, err := ReadPublished(paths)
	if err != nil {
		return nil, err
	}
	sinks := map[string][]SinkLine{}
	for _, a := range w.agents {
		r.Agents = append(r.Agents, a.spec)
		fresh := newSinkReader(a.sink)
		if err := fresh.Poll(); err != nil {
			return nil, err
		}
		lines, junk := fresh.Lines()
		sinks[a.spec.Member] = lines
		r.Notes = append(r.Notes, junk...)
	}
	// Fresh connections: the workload's may have been closed by a fault.
	conns := map[string]*client.Client{}
	ids := []string{fuzzerID}
	for _, p := range w.pubs {
		ids = append(ids, p.c.Member())
	}
	for _, id := range ids {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := memberConn(cctx, w.cl.memberURLs(id), credsOf(w.creds, id), w.cl.CA())
		cancel()
		if err != nil {
			r.Failures = append(r.Failures, fmt.Sprintf("cannot check as %s: %v", id, err))
			continue
		}
		defer c.Close()
		conns[id] = c
	}
	in := CheckInput{Published: published, Agents: r.Agents, Sinks: sinks, Phases: phases,
		Outcomes: outcomes(ctx, conns, published), Ignore: []string{fuzzerID}, SlowAfter: w.opts.SlowDelivery}
	r.CheckResult = *Check(in)
	for _, id := range ids[1:] {
		c := conns[id]
		if c == nil {
			continue
		}
		rejs, err := readRejections(ctx, c, w.cl.lay.streamOf(subjects.StreamRejections, id), nil)
		if err != nil {
			r.Failures = append(r.Failures, fmt.Sprintf("cannot read %s's rejections: %v", id, err))
			continue
		}
		for ref, rs := range rejs {
			for _, rej := range rs {
				code, msg := problemText(rej)
				r.Refused = appendCapped(r.Refused, Finding{ID: ref, Publisher: id, Detail: code + ": " + msg})
			}
		}
	}
	if fuzz := conns[fuzzerID]; bad != nil && fuzz != nil {
		originals := map[string]bool{}
		for _, p := range published {
			if p.Publisher == fuzzerID {
				originals[p.ID] = true
			}
		}
		octx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		report, err := waitBadInput(octx, fuzz, w.cl.lay.streamOf(subjects.StreamRejections, fuzzerID), bad.Events(), sinks, originals)
		cancel()
		if err != nil {
			r.Failures = append(r.Failures, fmt.Sprintf("cannot read the bad input's rejections: %v", err))
		}
		r.BadInput = report
	}
	r.Crashes = w.crashes()
	r.Notes = append(r.Notes, w.notes...)
	if w.warmUp != "" {
		r.Failures = append(r.Failures, "warm-up: "+w.warmUp)
	}
	r.judge(w.opts.Faults)
	return r, nil
}

// outcomes reads the ROUTED state of every acknowledged alert through its
// publisher's own connection, eight at a time.
func outcomes(ctx context.Context, conns map[string]*client.Client, published []*Published) map[string]string {
	out := map[string]string{}
	var mu sync.Mutex
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, p := range published {
		c := conns[p.Publisher]
		if p.Acked.IsZero() || c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			octx, cancel := context.WithTimeout(ctx, 10*time.Second)
			o, err := c.Outcome(octx, p.ID)
			cancel()
			if err != nil || o == nil {
				return
			}
			st := strings.ToLower(strings.TrimPrefix(o.GetState().String(), "OUTCOME_STATE_"))
			mu.Lock()
			out[p.ID] = st
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// WriteJSON writes the report as indented JSON to path.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// PrintTable writes the summary table and the verdict.
func (r *Report) PrintTable(out io.Writer) {
	shape := "one cluster of 3 nodes"
	if r.Regions {
		shape = "regions east (the registry) and west, a stream set each, and a witness"
	}
	fmt.Fprintf(out, "%s, sync_interval %s, seed %d, faults for %s, %d publishers at %.1f/s, %d agents, sites of %v; %s\n\n",
		shape, r.Sync, r.Seed, r.Duration, r.Publishers, r.Rate, len(r.Agents), r.Sites, r.Finished.Sub(r.Started).Round(time.Second))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "fault\tinjections\toperations\tacknowledged\texpected\tdelivered\tlost\tduplicates\tunexpected\tnot routed\trecovery s\tdelivery p99 s\tmax s\t")
	for _, row := range append(append([]Row(nil), r.Table...), r.Total) {
		rec := fmt.Sprintf("%.1f", row.RecoverySeconds)
		if row.RecoverySeconds < 0 {
			rec = "slow"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%.1f\t%.1f\t\n", row.Fault, row.Injections, row.Operations, row.Acknowledged,
			row.Expected, row.Delivered, row.Lost, row.Duplicates, row.Unexpected, row.NotRouted, rec, row.DeliveryP99Seconds, row.DeliveryMaxSeconds)
	}
	w.Flush()
	if len(r.Paths) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "path\texpected\tdelivered\tlost\tduplicates\t")
		for _, p := range r.Paths {
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t\n", p.Path, p.Expected, p.Delivered, p.Lost, p.Duplicates)
		}
		w.Flush()
	}
	fmt.Fprintf(out, "\ndrain after the last heal: %.1fs; gaps in a publisher's order: %d; delivered though never acknowledged: %d\n",
		r.DrainSeconds, r.GapCount, r.DeliveredUnacked)
	if s := r.Slowest; s != nil {
		fmt.Fprintf(out, "slowest delivery: %s, %s #%d to %s, %s\n", s.Phase, s.Publisher, s.N, s.Agent, s.Detail)
	}
	if b := r.BadInput; b != nil {
		fmt.Fprintf(out, "\nbad input: %d sent, rejection p50 %.2fs max %.2fs, %d undecodable (%d rejections without id)\n",
			b.Sent, b.RejectionP50Seconds, b.RejectionMaxSeconds, b.Undecodable, b.UndecodableRejections)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  class\texpect\tsent\tacked\tas expected\tfailed\treasons")
		for _, c := range b.Classes {
			fmt.Fprintf(w, "  %s\t%s\t%d\t%d\t%d\t%d\t%s\n", c.Class, c.Expect, c.Sent, c.Acked, c.Judged, c.Failures, codeList(c.Codes))
		}
		w.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintln(out, "note: "+n)
	}
	if r.Passed() {
		fmt.Fprintln(out, "\nPASS: nothing lost, nothing duplicated, nothing unexpected")
		return
	}
	fmt.Fprintln(out, "\nFAIL:")
	for _, f := range r.Failures {
		fmt.Fprintln(out, "  "+f)
	}
	for _, group := range []struct {
		name string
		fs   []Finding
	}{{"lost", r.Lost}, {"gap", r.Gaps}, {"duplicate", r.Duplicates}, {"unexpected", r.Unexpected}, {"not routed", r.NotRouted}, {"refused", r.Refused}, {"slow", r.Slow}} {
		for i, f := range group.fs {
			if i == 10 {
				fmt.Fprintf(out, "  ... (%d more %s in the JSON report)\n", len(group.fs)-10, group.name)
				break
			}
			fmt.Fprintf(out, "  %s: %s #%d %s at %s (%s): %s\n", group.name, f.Publisher, f.N, f.ID, f.Agent, f.Phase, f.Detail)
		}
	}
	if b := r.BadInput; b != nil {
		for _, f := range b.Failures {
			fmt.Fprintln(out, "  bad input: "+f)
		}
	}
}

// codeList spells counts as "code×n, ...", most frequent first.
func codeList(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	for k, v := range m {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v || kvs[i].v == kvs[j].v && kvs[i].k < kvs[j].k })
	var parts []string
	for _, e := range kvs {
		parts = append(parts, fmt.Sprintf("%s×%d", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}
