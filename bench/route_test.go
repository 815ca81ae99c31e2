package bench

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// TestRouteRuns runs the router benchmark small, so that the function
// `tocsin bench route` calls keeps working: every alert through both
// pipelines, in the rounds asked for, with the writes per alert each
// side makes.
func TestRouteRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Route(ctx, RouteOptions{Alerts: 300, Rounds: 3, Warmup: 20, DataDir: t.TempDir(), SyncInterval: benchSync,
		Progress: func(s string) { t.Log(s) }}, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.RawPipelineRate <= 0 || r.TocsinRate <= 0 || r.RawPublishRate <= 0 || r.RatioPipeline <= 0 {
		t.Errorf("missing rates: %+v", r)
	}
	if processCPU() > 0 && (r.RawCPUPerAlert <= 0 || r.TocsinCPUPerAlert <= 0 || r.RawCoresBusy <= 0 || r.TocsinCoresBusy <= 0) {
		t.Errorf("CPU per alert not measured: %+v", r)
	}
	if len(r.RoundRatios) != 3 || r.Rounds != 3 || r.Alerts != 300 {
		t.Errorf("rounds %d, ratios %v, alerts %d; want 3 rounds of 100", r.Rounds, r.RoundRatios, r.Alerts)
	}
	// Three replicated writes per alert on the router and its raw
	// pipeline (ingest, the record as one atomic batch of three messages,
	// the copy), five on the raw pipeline of before: the warm-up is not
	// counted and no side's writes leak into another's count.
	if len(r.RecordBytes) != 3 {
		t.Errorf("record sizes %v: want the three records an alert writes", r.RecordBytes)
	}
	if r.WritesPerAlert != 3 || r.RawWritesPerAlert != 3 || r.RawFiveWritesPerAlert != 5 || r.MessagesPerAlert != 5 {
		t.Errorf("replicated writes per alert: tocsin %.2f (%.2f messages), raw %.2f, raw five %.2f; want 3 (5), 3 and 5",
			r.WritesPerAlert, r.MessagesPerAlert, r.RawWritesPerAlert, r.RawFiveWritesPerAlert)
	}
	if r.RawFiveRate <= 0 || r.WriteGain <= 0 || r.RatioFive <= 0 {
		t.Errorf("the five-write pipeline was not measured: %+v", r)
	}
}

// BenchmarkRoute reports Tocsin's routed alerts per second and its ratio to
// a raw JetStream pipeline making the same replicated writes, same run.
func BenchmarkRoute(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		r, err := Route(ctx, RouteOptions{Alerts: 4000, DataDir: b.TempDir(), SyncInterval: benchSync}, zap.NewNop())
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.TocsinRate, "alerts/s")
		b.ReportMetric(r.RawPipelineRate, "raw-alerts/s")
		b.ReportMetric(r.RatioPipeline, "ratio")
		b.ReportMetric(r.WritesPerAlert, "writes/alert")
		b.ReportMetric(r.RatioFive, "ratio-vs-five")
	}
}

// benchSync is the sync interval of BenchmarkRoute: nats-server's default,
// so that the figure shows CPU cost rather than fsync latency.
const benchSync = 2 * time.Minute
