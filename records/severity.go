package records

import tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"

// Severity is how urgent a message is in the words SOC tools use. It is
// derived from the lane by one table, used alike by the agent's record,
// its pages and its CEF, LEEF and syslog output (docs/AGENT.md):
//
//	lane     severity  syslog (RFC 5424)  CEF  PagerDuty
//	flash    critical  2 (critical)       10   critical
//	urgent   high      3 (error)          8    error
//	routine  medium    4 (warning)        5    warning
//	info     low       6 (informational)  2    info
type Severity struct {
	// Name is the record's severity ("critical", "high", "medium", "low").
	Name string
	// Syslog is the RFC 5424 severity of the syslog header.
	Syslog int
	// CEF is the CEF header's severity, 0 to 10 (LEEF's sev too).
	CEF int
	// PagerDuty is the Events API v2 payload.severity.
	PagerDuty string
}

var severities = map[tocsinv1.Lane]Severity{
	tocsinv1.Lane_LANE_FLASH:   {"critical", 2, 10, "critical"},
	tocsinv1.Lane_LANE_URGENT:  {"high", 3, 8, "error"},
	tocsinv1.Lane_LANE_ROUTINE: {"medium", 4, 5, "warning"},
	tocsinv1.Lane_LANE_INFO:    {"low", 6, 2, "info"},
}

// SeverityOf is the severity of a message on lane. A lane the table does
// not know (unspecified, or newer than this code) is treated as routine:
// never louder than the sender asked, never silent.
func SeverityOf(lane tocsinv1.Lane) Severity {
	if s, ok := severities[lane]; ok {
		return s
	}
	return severities[tocsinv1.Lane_LANE_ROUTINE]
}

// Raised is the lane one step more urgent than lane: info becomes routine,
// routine urgent, urgent and flash flash (a lane the table does not know
// counts as routine). The agent handles a CSAF advisory that matched the
// member's own inventory as if sent on it: its record's severity, its
// syslog and CEF/LEEF severity and its page (docs/AGENT.md, Severity).
func Raised(lane tocsinv1.Lane) tocsinv1.Lane {
	switch lane {
	case tocsinv1.Lane_LANE_INFO:
		return tocsinv1.Lane_LANE_ROUTINE
	case tocsinv1.Lane_LANE_URGENT, tocsinv1.Lane_LANE_FLASH:
		return tocsinv1.Lane_LANE_FLASH
	}
	return tocsinv1.Lane_LANE_URGENT
}
