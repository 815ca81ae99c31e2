package fanout

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestBenchPageRuns runs the paging benchmark small: every alert reaches
// every agent's sink, pages its PagerDuty endpoint and escalates once.
func TestBenchPageRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := RunPage(ctx, PageOptions{Agents: 4, Alerts: 3, Interval: 200 * time.Millisecond, EscalateAfter: 500 * time.Millisecond,
		DataDir: t.TempDir(), Progress: func(s string) { t.Log(s) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Expected != 12 || res.Written != 12 || res.Paged != 12 || res.Escalated != 12 {
		t.Errorf("%d written, %d paged, %d escalated; want %d each", res.Written, res.Paged, res.Escalated, res.Expected)
	}
	if res.Sink.P50 <= 0 || res.Page.P50 <= 0 || res.Page.P50 < res.Sink.P50 {
		t.Errorf("a page cannot arrive before the sink write: %+v", res)
	}
}

var (
	pageAgents = flag.Int("page.agents", 100, "BenchmarkPage: agents, each with its own PagerDuty endpoint")
	pageAlerts = flag.Int("page.alerts", 20, "BenchmarkPage: flash alerts")
)

// BenchmarkPage: publish-to-page against publish-to-sink, 100 agents
// (use -benchtime 1x).
func BenchmarkPage(b *testing.B) {
	for b.Loop() {
		res, err := RunPage(context.Background(), PageOptions{Agents: *pageAgents, Alerts: *pageAlerts, DataDir: b.TempDir(),
			Progress: func(s string) { fmt.Fprintln(os.Stderr, time.Now().Format(time.TimeOnly), s) }}, benchLog())
		if err != nil {
			b.Fatal(err)
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(res.Sink.P50), "sink-p50-ms")
		b.ReportMetric(ms(res.Sink.P99), "sink-p99-ms")
		b.ReportMetric(ms(res.Page.P50), "page-p50-ms")
		b.ReportMetric(ms(res.Page.P99), "page-p99-ms")
		b.ReportMetric(ms(res.AddedP99), "page-added-p99-ms")
		b.ReportMetric(ms(res.Escalation.Max), "escalation-late-max-ms")
		b.Logf("%+v", res)
	}
}
