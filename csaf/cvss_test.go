package csaf

import (
	"math"
	"testing"
)

// TestCVSSScores checks the calculators on vectors whose scores the
// specifications and NVD publish; the OASIS data covers base scores only.
// scoreCase is a vector and the base, temporal and environmental scores it
// gives.
type scoreCase struct {
	vector              string
	base, temporal, env float64
}

// TestCVSSScores checks the calculators on vectors whose scores the
// specifications and NVD publish; the OASIS data covers base scores only.
func TestCVSSScores(t *testing.T) {
	v3 := []scoreCase{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, 9.8, 9.8},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, 6.1, 6.1},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10, 10, 10},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C", 9.8, 8.8, 8.8},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/MAV:L", 9.8, 9.8, 8.4},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/CR:H/IR:H/AR:H", 9.8, 9.8, 9.8},
		{"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0, 0, 0},
	}
	v2 := []scoreCase{
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, 7.5, 7.5},
		{"AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3, 4.3, 4.3},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F/RL:OF/RC:C", 7.5, 6.2, 6.2},
		// CVE-2002-0392, the CVSS v2 guide's worked example (section 3.3.1).
		{"AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:H", 7.8, 6.4, 9.2},
	}
	check := func(c scoreCase, parsed bool, scores func() (float64, float64, float64)) {
		if !parsed {
			t.Errorf("%s does not parse", c.vector)
			return
		}
		b, tm, e := scores()
		if !near(b, c.base) || !near(tm, c.temporal) || !near(e, c.env) {
			t.Errorf("%s = %.1f/%.1f/%.1f, want %.1f/%.1f/%.1f", c.vector, b, tm, e, c.base, c.temporal, c.env)
		}
	}
	for _, c := range v3 {
		v, ok := parseCVSS3(c.vector)
		check(c, ok, v.scores)
	}
	for _, c := range v2 {
		v, ok := parseCVSS2(c.vector)
		check(c, ok, v.scores)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestCVSSVectorsRefused(t *testing.T) {
	for _, v := range []string{"CVSS:3.1/AV:N/AC:L", "CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"} {
		if _, ok := parseCVSS3(v); ok {
			t.Errorf("%s parsed", v)
		}
	}
	for _, v := range []string{"AV:N/AC:L/Au:N", "AC:L/AV:N/Au:N/C:P/I:P/A:P", "AV:N/AC:L/Au:N/C:P/I:P/A:ND"} {
		if _, ok := parseCVSS2(v); ok {
			t.Errorf("%s parsed", v)
		}
	}
}
