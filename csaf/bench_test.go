package csaf

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkValidateICSMA validates the 134 pinned ICSMA advisories in turn,
// one per iteration, and reports documents per second of wall time
// (docs/s, on one core with -cpu 1) and per second of CPU time the process
// used (docs/cpu-s, every thread, the garbage collector's too), which holds
// on a machine that other work shares. docs/CSAF.md states the figures:
//
//	go test -run '^$' -bench BenchmarkValidateICSMA -benchtime 3s -cpu 1 ./csaf
func BenchmarkValidateICSMA(b *testing.B) {
	files, err := filepath.Glob(filepath.Join(pinned(b, "cisa-icsma"), "*.json"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no ICSMA advisories: %v", err)
	}
	docs := make([][]byte, len(files))
	size := 0
	for i, f := range files {
		if docs[i], err = os.ReadFile(f); err != nil {
			b.Fatal(err)
		}
		size += len(docs[i])
	}
	if _, err := Validate(docs[0]); err != nil { // compile the schemas outside the timing
		b.Fatal(err)
	}
	b.SetBytes(int64(size / len(docs)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := 0; i < b.N; i++ {
		if _, err := Validate(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(b.N)/(cpuTime(b)-cpu0).Seconds(), "docs/cpu-s")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
