package fanout

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPressureMeter: the IO pressure share of a phase that fsyncs is a
// fraction of its time (some tasks may stall in parallel, so at most a
// little over 1), or -1 where the kernel does not report pressure.
func TestPressureMeter(t *testing.T) {
	if _, ok := ioStall(); !ok {
		if got := startPressure().share(); got != -1 {
			t.Fatalf("share without /proc/pressure/io = %v, want -1", got)
		}
		t.Skip("no /proc/pressure/io on this kernel")
	}
	p := startPressure()
	f, err := os.Create(filepath.Join(t.TempDir(), "sync"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 20 {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.share(); got < 0 || got > 2 {
		t.Fatalf("io pressure share %v, want a fraction of the time", got)
	}
}
