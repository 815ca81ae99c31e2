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
