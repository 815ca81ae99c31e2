package csaf

import (
	"math"
	"strings"
)

// cvss3 is a parsed CVSS v3.0 or v3.1 vector: metric abbreviation to value
// letter, with every metric the vector leaves out as "X" (not defined).
type cvss3 struct {
	minor   string // "0" or "1"
	metrics map[string]string
}

// cvss3Base are the metrics a v3 vector must have.
var cvss3Base = []string{"AV", "AC", "PR", "UI", "S", "C", "I", "A"}

// cvss3Values are the letters each v3 metric accepts.
var cvss3Values = map[string]string{
	"AV": "NALP", "AC": "LH", "PR": "NLH", "UI": "NR", "S": "UC", "C": "HLN", "I": "HLN", "A": "HLN",
	"E": "XHFPU", "RL": "XUWTO", "RC": "XCRU", "CR": "XHML", "IR": "XHML", "AR": "XHML",
	"MAV": "XNALP", "MAC": "XLH", "MPR": "XNLH", "MUI": "XNR", "MS": "XUC", "MC": "XHLN", "MI": "XHLN", "MA": "XHLN",
}

// parseCVSS3 reads "CVSS:3.x/AV:N/...", or reports false.
func parseCVSS3(vector string) (cvss3, bool) {
	parts := strings.Split(vector, "/")
	v := cvss3{metrics: map[string]string{}}
	switch parts[0] {
	case "CVSS:3.0":
		v.minor = "0"
	case "CVSS:3.1":
		v.minor = "1"
	default:
		return v, false
	}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, ":")
		allowed, known := cvss3Values[k]
		if !ok || !known || len(val) != 1 || !strings.Contains(allowed, val) {
			return v, false
		}
		if _, dup := v.metrics[k]; dup {
			return v, false
		}
		v.metrics[k] = val
	}
	for _, k := range cvss3Base {
		if _, ok := v.metrics[k]; !ok {
			return v, false
		}
	}
	for k := range cvss3Values {
		if _, ok := v.metrics[k]; !ok {
			v.metrics[k] = "X"
		}
	}
	return v, true
}

var cvss3Weight = map[string]map[string]float64{
	"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
	"AC": {"L": 0.77, "H": 0.44},
	"UI": {"N": 0.85, "R": 0.62},
	"C":  {"H": 0.56, "L": 0.22, "N": 0}, "I": {"H": 0.56, "L": 0.22, "N": 0}, "A": {"H": 0.56, "L": 0.22, "N": 0},
	"E":  {"X": 1, "H": 1, "F": 0.97, "P": 0.94, "U": 0.91},
	"RL": {"X": 1, "U": 1, "W": 0.97, "T": 0.96, "O": 0.95},
	"RC": {"X": 1, "C": 1, "R": 0.96, "U": 0.92},
	"CR": {"X": 1, "H": 1.5, "M": 1, "L": 0.5}, "IR": {"X": 1, "H": 1.5, "M": 1, "L": 0.5}, "AR": {"X": 1, "H": 1.5, "M": 1, "L": 0.5},
}

// pr3 is the weight of Privileges Required, which depends on Scope.
func pr3(pr, scope string) float64 {
	switch pr {
	case "N":
		return 0.85
	case "L":
		if scope == "C" {
			return 0.68
		}
		return 0.62
	default: // H
		if scope == "C" {
			return 0.5
		}
		return 0.27
	}
}

// roundup is the specification's Roundup: v3.1 avoids floating point
// artefacts (Appendix A), v3.0 is the plain ceiling to one decimal.
func (v cvss3) roundup(x float64) float64 {
	if v.minor == "0" {
		return math.Ceil(x*10) / 10
	}
	i := math.Round(x * 100000)
	if math.Mod(i, 10000) == 0 {
		return i / 100000
	}
	return (math.Floor(i/10000) + 1) / 10
}

// scores computes the base, temporal and environmental scores.
func (v cvss3) scores() (base, temporal, environmental float64) {
	m := v.metrics
	w := func(k string) float64 { return cvss3Weight[k][m[k]] }
	iss := 1 - (1-w("C"))*(1-w("I"))*(1-w("A"))
	var impact float64
	if m["S"] == "U" {
		impact = 6.42 * iss
	} else {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	expl := 8.22 * w("AV") * w("AC") * pr3(m["PR"], m["S"]) * w("UI")
	switch {
	case impact <= 0:
		base = 0
	case m["S"] == "U":
		base = v.roundup(math.Min(impact+expl, 10))
	default:
		base = v.roundup(math.Min(1.08*(impact+expl), 10))
	}
	erc := w("E") * w("RL") * w("RC")
	temporal = v.roundup(base * erc)

	// Modified metrics: "X" takes the base metric's value.
	mod := func(k string) string {
		if val := m["M"+k]; val != "X" {
			return val
		}
		return m[k]
	}
	mw := func(k string) float64 { return cvss3Weight[k][mod(k)] }
	ms := mod("S")
	miss := math.Min(1-(1-w("CR")*mw("C"))*(1-w("IR")*mw("I"))*(1-w("AR")*mw("A")), 0.915)
	var mImpact float64
	switch {
	case ms == "U":
		mImpact = 6.42 * miss
	case v.minor == "0":
		mImpact = 7.52*(miss-0.029) - 3.25*math.Pow(miss-0.02, 15)
	default:
		mImpact = 7.52*(miss-0.029) - 3.25*math.Pow(miss*0.9731-0.02, 13)
	}
	mExpl := 8.22 * mw("AV") * mw("AC") * pr3(mod("PR"), ms) * mw("UI")
	switch {
	case mImpact <= 0:
		environmental = 0
	case ms == "U":
		environmental = v.roundup(v.roundup(math.Min(mImpact+mExpl, 10)) * erc)
	default:
		environmental = v.roundup(v.roundup(math.Min(1.08*(mImpact+mExpl), 10)) * erc)
	}
	return base, temporal, environmental
}

// severity3 is the qualitative rating of a v3 score.
func severity3(score float64) string {
	switch {
	case score == 0:
		return "NONE"
	case score < 4:
		return "LOW"
	case score < 7:
		return "MEDIUM"
	case score < 9:
		return "HIGH"
	default:
		return "CRITICAL"
	}
}

// cvss3Props maps the JSON properties of a v3 object to their metric and
// the letter of each value.
var cvss3Props = map[string]struct {
	metric string
	values map[string]string
}{
	"attackVector":                  {"AV", map[string]string{"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L", "PHYSICAL": "P"}},
	"attackComplexity":              {"AC", lowHigh},
	"privilegesRequired":            {"PR", noneLowHigh},
	"userInteraction":               {"UI", map[string]string{"NONE": "N", "REQUIRED": "R"}},
	"scope":                         {"S", map[string]string{"UNCHANGED": "U", "CHANGED": "C"}},
	"confidentialityImpact":         {"C", noneLowHigh},
	"integrityImpact":               {"I", noneLowHigh},
	"availabilityImpact":            {"A", noneLowHigh},
	"exploitCodeMaturity":           {"E", map[string]string{"UNPROVEN": "U", "PROOF_OF_CONCEPT": "P", "FUNCTIONAL": "F", "HIGH": "H", "NOT_DEFINED": "X"}},
	"remediationLevel":              {"RL", map[string]string{"OFFICIAL_FIX": "O", "TEMPORARY_FIX": "T", "WORKAROUND": "W", "UNAVAILABLE": "U", "NOT_DEFINED": "X"}},
	"reportConfidence":              {"RC", map[string]string{"UNKNOWN": "U", "REASONABLE": "R", "CONFIRMED": "C", "NOT_DEFINED": "X"}},
	"confidentialityRequirement":    {"CR", requirement},
	"integrityRequirement":          {"IR", requirement},
	"availabilityRequirement":       {"AR", requirement},
	"modifiedAttackVector":          {"MAV", map[string]string{"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L", "PHYSICAL": "P", "NOT_DEFINED": "X"}},
	"modifiedAttackComplexity":      {"MAC", withX(lowHigh)},
	"modifiedPrivilegesRequired":    {"MPR", withX(noneLowHigh)},
	"modifiedUserInteraction":       {"MUI", map[string]string{"NONE": "N", "REQUIRED": "R", "NOT_DEFINED": "X"}},
	"modifiedScope":                 {"MS", map[string]string{"UNCHANGED": "U", "CHANGED": "C", "NOT_DEFINED": "X"}},
	"modifiedConfidentialityImpact": {"MC", withX(noneLowHigh)},
	"modifiedIntegrityImpact":       {"MI", withX(noneLowHigh)},
	"modifiedAvailabilityImpact":    {"MA", withX(noneLowHigh)},
}

var (
	lowHigh     = map[string]string{"LOW": "L", "HIGH": "H"}
	noneLowHigh = map[string]string{"NONE": "N", "LOW": "L", "HIGH": "H"}
	requirement = map[string]string{"LOW": "L", "MEDIUM": "M", "HIGH": "H", "NOT_DEFINED": "X"}
)

func withX(m map[string]string) map[string]string {
	out := map[string]string{"NOT_DEFINED": "X"}
	for k, v := range m {
		out[k] = v
	}
	return out
}
