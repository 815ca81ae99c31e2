package agent

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestBenchFanoutRuns runs the fan-out benchmark small, so that the
// function `tocsin bench fanout` calls keeps working.
func TestBenchFanoutRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := BenchFanout(ctx, FanoutOptions{Agents: 4, Rate: 10, Duration: 2 * time.Second, CatchUp: 200, DataDir: t.TempDir(),
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
}
