package csaf

import "regexp"

// informative is every test of section 6.3 the validator runs; their
// problems are warnings too. 6.3.6 and 6.3.7 (URLs failing to resolve)
// need the network and 6.3.8 (spell check) a dictionary: not run.
var informative = []test{
	{"6.3.1", "Use of CVSS v2 as the only Scoring System", (*doc).cvss2Only},
	{"6.3.2", "Use of CVSS v3.0", (*doc).cvss30},
	{"6.3.3", "Missing CVE", (*doc).missingCVE},
	{"6.3.4", "Missing CWE", (*doc).missingCWE},
	{"6.3.5", "Use of Short Hash", (*doc).shortHash},
	{"6.3.9", "Branch Categories", (*doc).branchCategories},
	{"6.3.10", "Usage of Product Version Range", (*doc).usesVersionRange},
	{"6.3.11", "Usage of V as Version Indicator", (*doc).vVersion},
}

// InformativeTests lists the id and name of every informative test (6.3)
// Validate runs; their problems are warnings.
func InformativeTests() [][2]string {
	var out [][2]string
	for _, t := range informative {
		out = append(out, [2]string{t.id, t.name})
	}
	return out
}

func (d *doc) cvss2Only() {
	for vi, v := range d.vulns {
		for si, s := range arr(v, "scores") {
			if has(s, "cvss_v2") && !has(s, "cvss_v3") {
				d.warn("6.3.1", at("/vulnerabilities", vi, "scores", si), "this score is CVSS v2 only: add a CVSS v3.1 score")
			}
		}
	}
}

func (d *doc) cvss30() {
	d.eachCVSS(func(c map[string]any, key, path string) {
		if key == "cvss_v3" && str(c, "version") == "3.0" {
			d.warn("6.3.2", at(path, "version"), "CVSS v3.0 is superseded: score with v3.1")
		}
	})
}

func (d *doc) missingCVE() {
	for vi, v := range d.vulns {
		if !has(v, "cve") {
			d.warn("6.3.3", at("/vulnerabilities", vi), "this vulnerability has no CVE: add it when one is assigned")
		}
	}
}

func (d *doc) missingCWE() {
	for vi, v := range d.vulns {
		if !has(v, "cwe") {
			d.warn("6.3.4", at("/vulnerabilities", vi), "this vulnerability has no CWE: add the weakness")
		}
	}
}

func (d *doc) shortHash() {
	for _, p := range d.productDefs() {
		for hi, h := range arr(p.helper, "hashes") {
			for fi, f := range arr(h, "file_hashes") {
				if v := str(f, "value"); len(v) < 64 {
					d.warn("6.3.5", at(p.path, "product_identification_helper", "hashes", hi, "file_hashes", fi, "value"), "this %s hash has %d characters, fewer than 64: use a longer hash (sha256 or better)", str(f, "algorithm"), len(v))
				}
			}
		}
	}
}

// branchCategories is 6.3.9: the branches above each product include
// vendor, product_name and product_version (or product_version_range), in
// that order, with any others before, between or after.
func (d *doc) branchCategories() {
	var walk func(branches []any, path string, chain []string)
	walk = func(branches []any, path string, chain []string) {
		for i, e := range branches {
			p := at(path, i)
			c := append(chain[:len(chain):len(chain)], str(e, "category"))
			if has(e, "product") && !inOrder(c) {
				d.warn("6.3.9", at(p, "product"), "the branches above this product are %v: they should include vendor, product_name and product_version, in that order", c)
			}
			walk(arr(e, "branches"), at(p, "branches"), c)
		}
	}
	walk(arr(d.tree, "branches"), "/product_tree/branches", nil)
}

// inOrder reports whether chain has vendor, then product_name, then a
// product version.
func inOrder(chain []string) bool {
	want := [][]string{{"vendor"}, {"product_name"}, {"product_version", "product_version_range"}}
	k := 0
	for _, c := range chain {
		if k < len(want) && (c == want[k][0] || len(want[k]) > 1 && c == want[k][1]) {
			k++
		}
	}
	return k == len(want)
}

func (d *doc) usesVersionRange() {
	d.eachBranch(func(b map[string]any, path string) {
		if str(b, "category") == "product_version_range" {
			d.warn("6.3.10", at(path, "category"), "a version range names no one version: give product_version branches where the versions are known")
		}
	})
}

var vVersion = regexp.MustCompile(`^[vV][0-9].*$`)

func (d *doc) vVersion() {
	d.eachBranch(func(b map[string]any, path string) {
		if str(b, "category") == "product_version" && vVersion.MatchString(str(b, "name")) {
			d.warn("6.3.11", at(path, "name"), "%q: the version is given without the v (%s)", str(b, "name"), str(b, "name")[1:])
		}
	})
}
