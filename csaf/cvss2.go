package csaf

import (
	"math"
	"strings"
)

// cvss2 is a parsed CVSS v2 vector: metric to value, every metric the
// vector leaves out as "ND" (not defined).
type cvss2 map[string]string

var cvss2Weight = map[string]map[string]float64{
	"AV": {"L": 0.395, "A": 0.646, "N": 1},
	"AC": {"H": 0.35, "M": 0.61, "L": 0.71},
	"Au": {"M": 0.45, "S": 0.56, "N": 0.704},
	"C":  {"N": 0, "P": 0.275, "C": 0.660}, "I": {"N": 0, "P": 0.275, "C": 0.660}, "A": {"N": 0, "P": 0.275, "C": 0.660},
	"E":   {"U": 0.85, "POC": 0.9, "F": 0.95, "H": 1, "ND": 1},
	"RL":  {"OF": 0.87, "TF": 0.9, "W": 0.95, "U": 1, "ND": 1},
	"RC":  {"UC": 0.9, "UR": 0.95, "C": 1, "ND": 1},
	"CDP": {"N": 0, "L": 0.1, "LM": 0.3, "MH": 0.4, "H": 0.5, "ND": 0},
	"TD":  {"N": 0, "L": 0.25, "M": 0.75, "H": 1, "ND": 1},
	"CR":  {"L": 0.5, "M": 1, "H": 1.51, "ND": 1}, "IR": {"L": 0.5, "M": 1, "H": 1.51, "ND": 1}, "AR": {"L": 0.5, "M": 1, "H": 1.51, "ND": 1},
}

// cvss2Base are the metrics a v2 vector must have, in order.
var cvss2Base = []string{"AV", "AC", "Au", "C", "I", "A"}

// parseCVSS2 reads "AV:N/AC:L/Au:N/C:P/I:P/A:P[/E:...]", or reports false.
func parseCVSS2(vector string) (cvss2, bool) {
	v := cvss2{}
	for i, p := range strings.Split(vector, "/") {
		k, val, ok := strings.Cut(p, ":")
		w, known := cvss2Weight[k]
		if _, valid := w[val]; !ok || !known || !valid || val == "ND" && i < len(cvss2Base) {
			return nil, false
		}
		if _, dup := v[k]; dup || i < len(cvss2Base) && k != cvss2Base[i] {
			return nil, false
		}
		v[k] = val
	}
	for _, k := range cvss2Base {
		if _, ok := v[k]; !ok {
			return nil, false
		}
	}
	for k := range cvss2Weight {
		if _, ok := v[k]; !ok {
			v[k] = "ND"
		}
	}
	return v, true
}

// round1 rounds to one decimal, halves up, as the v2 equations do.
func round1(x float64) float64 { return math.Floor(x*10+0.5+1e-9) / 10 }

// scores computes the base, temporal and environmental scores.
func (v cvss2) scores() (base, temporal, environmental float64) {
	w := func(k string) float64 { return cvss2Weight[k][v[k]] }
	baseOf := func(impact float64) float64 {
		f := 1.176
		if impact == 0 {
			f = 0
		}
		expl := 20 * w("AV") * w("AC") * w("Au")
		return round1((0.6*impact + 0.4*expl - 1.5) * f)
	}
	base = baseOf(10.41 * (1 - (1-w("C"))*(1-w("I"))*(1-w("A"))))
	erc := w("E") * w("RL") * w("RC")
	temporal = round1(base * erc)
	adjImpact := math.Min(10, 10.41*(1-(1-w("C")*w("CR"))*(1-w("I")*w("IR"))*(1-w("A")*w("AR"))))
	adjTemporal := round1(baseOf(adjImpact) * erc)
	environmental = round1((adjTemporal + (10-adjTemporal)*w("CDP")) * w("TD"))
	return base, temporal, environmental
}

// cvss2Props maps the JSON properties of a v2 object to their metric and
// the letters of each value.
var cvss2Props = map[string]struct {
	metric string
	values map[string]string
}{
	"accessVector":               {"AV", map[string]string{"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L"}},
	"accessComplexity":           {"AC", map[string]string{"HIGH": "H", "MEDIUM": "M", "LOW": "L"}},
	"authentication":             {"Au", map[string]string{"MULTIPLE": "M", "SINGLE": "S", "NONE": "N"}},
	"confidentialityImpact":      {"C", impact2},
	"integrityImpact":            {"I", impact2},
	"availabilityImpact":         {"A", impact2},
	"exploitability":             {"E", map[string]string{"UNPROVEN": "U", "PROOF_OF_CONCEPT": "POC", "FUNCTIONAL": "F", "HIGH": "H", "NOT_DEFINED": "ND"}},
	"remediationLevel":           {"RL", map[string]string{"OFFICIAL_FIX": "OF", "TEMPORARY_FIX": "TF", "WORKAROUND": "W", "UNAVAILABLE": "U", "NOT_DEFINED": "ND"}},
	"reportConfidence":           {"RC", map[string]string{"UNCONFIRMED": "UC", "UNCORROBORATED": "UR", "CONFIRMED": "C", "NOT_DEFINED": "ND"}},
	"collateralDamagePotential":  {"CDP", map[string]string{"NONE": "N", "LOW": "L", "LOW_MEDIUM": "LM", "MEDIUM_HIGH": "MH", "HIGH": "H", "NOT_DEFINED": "ND"}},
	"targetDistribution":         {"TD", map[string]string{"NONE": "N", "LOW": "L", "MEDIUM": "M", "HIGH": "H", "NOT_DEFINED": "ND"}},
	"confidentialityRequirement": {"CR", requirement2},
	"integrityRequirement":       {"IR", requirement2},
	"availabilityRequirement":    {"AR", requirement2},
}

var (
	impact2      = map[string]string{"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}
	requirement2 = map[string]string{"LOW": "L", "MEDIUM": "M", "HIGH": "H", "NOT_DEFINED": "ND"}
)
