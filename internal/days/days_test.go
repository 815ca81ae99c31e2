package days

import (
	"testing"
	"time"
)

func TestParseTakesGoDurationsAndDays(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90m": 90 * time.Minute, "12h": 12 * time.Hour, "1h30m": 90 * time.Minute, "2d": 48 * time.Hour,
		"90d": 90 * 24 * time.Hour, "1d12h": 36 * time.Hour, " 3d ": 72 * time.Hour, "0d": 0, "0": 0, "1500ms": 1500 * time.Millisecond,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
		if err == nil {
			if back, err := Parse(Format(got)); err != nil || back != got {
				t.Errorf("Format(%v) = %q does not read back: %v %v", got, Format(got), back, err)
			}
		}
	}
	for _, in := range []string{"", "d", "-2d", "2d-1h", "x1d", "1.5d", "2days", "12", "1d1d", "999999d"} {
		if d, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, d)
		}
	}
	if Format(48*time.Hour) != "2d" || Format(36*time.Hour) != "1d12h0m0s" || Format(90*time.Minute) != "1h30m0s" {
		t.Errorf("Format: %s %s %s", Format(48*time.Hour), Format(36*time.Hour), Format(90*time.Minute))
	}
}
