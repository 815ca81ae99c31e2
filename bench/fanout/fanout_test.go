package fanout

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
)

// TestBenchFanoutRuns runs the fan-out benchmark small, so that the
// function `tocsin bench fanout` calls keeps working.
func TestBenchFanoutRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Agents: 4, Rate: 10, Duration: 2 * time.Second, CatchUp: 200, DataDir: t.TempDir(),
		Progress: func(s string) { t.Log(s) }}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Tocsin.Delivered != res.Tocsin.Expected || res.Tocsin.Expected != 4*res.Tocsin.Published || res.Tocsin.Published != 20 {
		t.Errorf("tocsin: %d of %d delivered (%d published)", res.Tocsin.Delivered, res.Tocsin.Expected, res.Tocsin.Published)
	}
	if res.Raw.Delivered != res.Raw.Expected || res.Raw.Expected != 80 {
		t.Errorf("raw: %d of %d delivered", res.Raw.Delivered, res.Raw.Expected)
	}
	if res.Tocsin.Latency.P50 <= 0 || res.Raw.Latency.P50 <= 0 || res.CatchUp == nil || res.CatchUp.Alerts < 200 || res.CatchUp.AgentPerSec <= 0 {
		t.Errorf("missing figures: %+v", res)
	}
	// Each memory figure is measured: the broker's part of the heap grows
	// with consumers and connections, the agents' with agents.
	if m := res.Memory; m.ConsumersPerAgent <= 0 || m.ConnectedPerAgent <= 0 || m.AgentPerAgent <= 0 || m.RawConnectedPerConsumer <= 0 {
		t.Errorf("memory figures not all positive: %+v", m)
	}
	// The slowest delivery is the maximum, split into routing and delivery.
	if sl := res.Tocsin.Slowest; sl.Latency != res.Tocsin.Latency.Max || sl.Delivery < 1 || sl.Routed <= 0 || sl.Routed > sl.Latency {
		t.Errorf("slowest tocsin delivery %+v, max %s", sl, res.Tocsin.Latency.Max)
	}
}

var (
	fanoutAgents   = flag.Int("fanout.agents", 50, "BenchmarkFanout: agents")
	fanoutRate     = flag.Float64("fanout.rate", 5, "BenchmarkFanout: alerts per second")
	fanoutFor      = flag.Duration("fanout.duration", 10*time.Second, "BenchmarkFanout: publishing time")
	fanoutCatchUp  = flag.Int("fanout.catchup", 5000, "BenchmarkFanout: alerts the catch-up agent missed (-1: none)")
	fanoutReceipts = flag.String("fanout.receipts", agent.ReceiptsAll, "BenchmarkFanout: the agents' receipts: all, advisories or none")
)

// benchLog shows the servers' warnings when -v is given.
func benchLog() *zap.Logger {
	if !testing.Verbose() {
		return zap.NewNop()
	}
	l, _ := zap.NewDevelopment(zap.IncreaseLevel(zap.WarnLevel))
	return l
}

// BenchmarkFanout runs Run once per iteration (use -benchtime 1x)
// and reports its figures; -fanout.agents 1000 -fanout.catchup 100000 is
// the full run.
func BenchmarkFanout(b *testing.B) {
	for b.Loop() {
		res, err := Run(context.Background(), Options{Agents: *fanoutAgents, Rate: *fanoutRate, Duration: *fanoutFor,
			CatchUp: *fanoutCatchUp, Receipts: *fanoutReceipts, DataDir: b.TempDir(), Progress: func(s string) { fmt.Fprintln(os.Stderr, time.Now().Format(time.TimeOnly), s) }}, benchLog())
		if err != nil {
			b.Fatal(err)
		}
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(res.Tocsin.Latency.P50), "tocsin-p50-ms")
		b.ReportMetric(ms(res.Tocsin.Latency.P99), "tocsin-p99-ms")
		b.ReportMetric(ms(res.Tocsin.Latency.Max), "tocsin-max-ms")
		b.ReportMetric(res.Tocsin.PerSec, "tocsin-deliveries/s")
		b.ReportMetric(ms(res.Raw.Latency.P50), "raw-p50-ms")
		b.ReportMetric(ms(res.Raw.Latency.P99), "raw-p99-ms")
		b.ReportMetric(ms(res.Raw.Latency.Max), "raw-max-ms")
		b.ReportMetric(res.Raw.PerSec, "raw-deliveries/s")
		b.ReportMetric(float64(res.Memory.ConnectedPerAgent)/1024, "KiB-connection/agent")
		b.ReportMetric(float64(res.Memory.AgentPerAgent)/1024, "KiB-agent-heap/agent")
		b.ReportMetric(float64(res.Memory.ConsumersPerAgent)/1024, "KiB-consumers/agent")
		b.ReportMetric(float64(res.Memory.RawConnectedPerConsumer)/1024, "KiB/raw-consumer")
		if res.CatchUp != nil {
			b.ReportMetric(res.CatchUp.AgentPerSec, "catchup-agent/s")
			b.ReportMetric(res.CatchUp.RawPerSec, "catchup-raw/s")
		}
		b.Logf("%+v", res)
		if res.CatchUp != nil {
			b.Logf("catch-up %+v", *res.CatchUp)
		}
	}
}
