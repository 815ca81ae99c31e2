package agentcmd

import (
	"os"
	"runtime/debug"
)

// GCPercent is the agent's GOGC unless the environment sets one: the heap
// is collected when it grew by half (Go's default is 100%), which keeps
// an idle agent's resident set smaller for little CPU (an agent's heap
// is a few MiB).
const GCPercent = 50

// MemoryLimit is the agent's soft Go memory limit unless GOMEMLIMIT sets
// one: the collector works harder near it, so a catch-up of a large
// backlog stays under it (docs/PERFORMANCE.md, agent memory).
const MemoryLimit = 48 << 20

// SetMemoryDefaults sets GCPercent and MemoryLimit where GOGC and
// GOMEMLIMIT leave them to Go's defaults.
func SetMemoryDefaults() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
