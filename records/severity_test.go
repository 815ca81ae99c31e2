package records

import (
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func TestEveryLaneHasItsSeverity(t *testing.T) {
	want := map[tocsinv1.Lane]string{
		tocsinv1.Lane_LANE_FLASH: "critical", tocsinv1.Lane_LANE_URGENT: "high",
		tocsinv1.Lane_LANE_ROUTINE: "medium", tocsinv1.Lane_LANE_INFO: "low",
		tocsinv1.Lane_LANE_UNSPECIFIED: "medium",
	}
	for lane := range tocsinv1.Lane_name {
		l := tocsinv1.Lane(lane)
		if got := SeverityOf(l).Name; got != want[l] {
			t.Errorf("%s: severity %q, want %q", l, got, want[l])
		}
	}
	if SeverityOf(tocsinv1.Lane_LANE_FLASH).CEF <= SeverityOf(tocsinv1.Lane_LANE_URGENT).CEF ||
		SeverityOf(tocsinv1.Lane_LANE_FLASH).Syslog >= SeverityOf(tocsinv1.Lane_LANE_URGENT).Syslog {
		t.Error("flash must be louder than urgent in CEF and syslog")
	}
}

// TestRaised: a match raises a message one lane, flash staying flash and
// an unknown lane counting as routine.
func TestRaised(t *testing.T) {
	want := map[tocsinv1.Lane]tocsinv1.Lane{
		tocsinv1.Lane_LANE_INFO: tocsinv1.Lane_LANE_ROUTINE, tocsinv1.Lane_LANE_ROUTINE: tocsinv1.Lane_LANE_URGENT,
		tocsinv1.Lane_LANE_URGENT: tocsinv1.Lane_LANE_FLASH, tocsinv1.Lane_LANE_FLASH: tocsinv1.Lane_LANE_FLASH,
		tocsinv1.Lane_LANE_UNSPECIFIED: tocsinv1.Lane_LANE_URGENT, tocsinv1.Lane(42): tocsinv1.Lane_LANE_URGENT,
	}
	for l, w := range want {
		if got := Raised(l); got != w {
			t.Errorf("Raised(%v) = %v, want %v", l, got, w)
		}
	}
}
