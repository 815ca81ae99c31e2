package fanout

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// ioStall reads the kernel's IO pressure (Linux PSI): the microseconds
// during which some task waited for IO, since boot. ok is false where the
// kernel does not report it.
func ioStall() (total uint64, ok bool) {
	data, err := os.ReadFile("/proc/pressure/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if !strings.HasPrefix(line, "some ") {
			continue
		}
		for field := range strings.FieldsSeq(line) {
			if v, found := strings.CutPrefix(field, "total="); found {
				n, err := strconv.ParseUint(v, 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// pressureMeter measures the share of a phase's time during which some
// task of the machine waited for IO: the fan-out's Tocsin side writes
// every alert to disk with an fsync (the sinks must), the raw side does
// not, so a disk slowed by other work widens the gap; the figure tells
// such a run apart.
type pressureMeter struct {
	start time.Time
	stall uint64
	ok    bool
}

func startPressure() pressureMeter {
	s, ok := ioStall()
	return pressureMeter{start: time.Now(), stall: s, ok: ok}
}

// share is the fraction of the time since start that some task was
// stalled on IO, or -1 when unknown.
func (p pressureMeter) share() float64 {
	s, ok := ioStall()
	wall := time.Since(p.start)
	if !p.ok || !ok || wall <= 0 {
		return -1
	}
	return float64(s-p.stall) / float64(wall.Microseconds())
}
