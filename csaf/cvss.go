package csaf

import (
	"math"
	"sort"
	"strings"
)

// eachCVSS calls fn for every cvss_v2 and cvss_v3 object of the scores.
func (d *doc) eachCVSS(fn func(c map[string]any, key, path string)) {
	for vi, v := range d.vulns {
		for si, s := range arr(v, "scores") {
			for _, k := range []string{"cvss_v2", "cvss_v3"} {
				if c := obj(s, k); c != nil {
					fn(c, k, at("/vulnerabilities", vi, "scores", si, k))
				}
			}
		}
	}
}

// invalidCVSS is 6.1.8: each CVSS object is valid against the FIRST schema
// of its version.
func (d *doc) invalidCVSS() {
	d.eachCVSS(func(c map[string]any, key, path string) {
		version := str(c, "version")
		sch := d.schemas.cvss[version]
		if key == "cvss_v2" && version != "2.0" || key == "cvss_v3" && version != "3.0" && version != "3.1" {
			sch = nil
		}
		if sch == nil {
			d.fail("6.1.8", at(path, "version"), "%s has version %q, which is not a CVSS version it can hold (2.0 for cvss_v2, 3.0 or 3.1 for cvss_v3)", key, version)
			return
		}
		d.out = append(d.out, schemaProblems(sch.Validate(c), "6.1.8", path, "the FIRST CVSS "+version+" schema", nil)...)
	})
}

// cvssComputation is 6.1.9: the scores and severities are those the
// vector gives.
func (d *doc) cvssComputation() {
	d.eachCVSS(func(c map[string]any, key, path string) {
		var base, temporal, env float64
		var severity func(float64) string
		if key == "cvss_v2" {
			v, ok := parseCVSS2(str(c, "vectorString"))
			if !ok {
				return // 6.1.8 reports the vector
			}
			base, temporal, env = v.scores()
		} else {
			v, ok := parseCVSS3(str(c, "vectorString"))
			if !ok {
				return
			}
			base, temporal, env = v.scores()
			severity = severity3
		}
		for _, s := range []struct {
			score, sev string
			want       float64
		}{{"baseScore", "baseSeverity", base}, {"temporalScore", "temporalSeverity", temporal}, {"environmentalScore", "environmentalSeverity", env}} {
			if got, ok := num(c, s.score); ok && math.Abs(got-s.want) > 1e-9 {
				d.fail("6.1.9", at(path, s.score), "%s is %v but the vector %s gives %.1f: correct the score (the vector takes precedence)", s.score, got, str(c, "vectorString"), s.want)
			}
			if severity == nil || !has(c, s.sev) {
				continue
			}
			if got, want := str(c, s.sev), severity(s.want); got != want {
				d.fail("6.1.9", at(path, s.sev), "%s is %q but the vector's %s of %.1f is %s: correct the severity", s.sev, got, s.score, s.want, want)
			}
		}
	})
}

// cvssConsistent is 6.1.10: the metric properties say what the vector says,
// for each metric the vector gives.
func (d *doc) cvssConsistent() {
	d.eachCVSS(func(c map[string]any, key, path string) {
		vector := str(c, "vectorString")
		var metrics map[string]string
		props := cvss3Props
		if key == "cvss_v2" {
			v, ok := parseCVSS2(vector)
			if !ok {
				return
			}
			metrics, props = v, cvss2Props
		} else {
			v, ok := parseCVSS3(vector)
			if !ok {
				return
			}
			metrics = v.metrics
		}
		given := map[string]bool{}
		for _, part := range strings.Split(vector, "/") {
			k, _, _ := strings.Cut(part, ":")
			given[k] = true
		}
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			p := props[name]
			if !has(c, name) || !given[p.metric] {
				continue // a metric the vector leaves out contradicts nothing
			}
			got := str(c, name)
			if letter, ok := p.values[got]; ok && letter != metrics[p.metric] {
				d.fail("6.1.10", at(path, name), "%s is %s but the vector %s says %s:%s: make the property agree with the vector", name, got, vector, p.metric, metrics[p.metric])
			}
		}
	})
}
