package bench

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
)

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
	}
}

// benchSync is the sync interval of BenchmarkRoute: nats-server's default,
// so that the figure shows CPU cost rather than fsync latency.
const benchSync = 2 * time.Minute
