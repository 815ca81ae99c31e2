package agentcmd

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryDefaultsYieldToTheEnvironment: the agent's GOGC and memory
// limit apply only where GOGC and GOMEMLIMIT set none.
func TestMemoryDefaultsYieldToTheEnvironment(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	SetMemoryDefaults()
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, GCPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != MemoryLimit {
		t.Errorf("GOMEMLIMIT unset: limit %d, want %d", got, MemoryLimit)
	}
	t.Setenv("GOGC", "80")
	t.Setenv("GOMEMLIMIT", "1GiB")
	SetMemoryDefaults()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent changed to %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: limit changed to %d", got)
	}
}
