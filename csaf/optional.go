package csaf

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// warn records a problem of an optional test (6.2): a warning, which
// leaves the document valid.
func (d *doc) warn(test, path, format string, args ...any) {
	d.out = append(d.out, Problem{Test: test, Path: path, Severity: Warning, Message: fmt.Sprintf(format, args...)})
}

// optional is every test of section 6.2 the validator runs, in order.
var optional = []test{
	{"6.2.1", "Unused Definition of Product ID", (*doc).unusedProductID},
	{"6.2.2", "Missing Remediation", (*doc).missingRemediation},
	{"6.2.3", "Missing Score", (*doc).missingScore},
	{"6.2.4", "Build Metadata in Revision History", (*doc).buildMetadata},
	{"6.2.5", "Older Initial Release Date than Revision History", (*doc).olderInitialRelease},
	{"6.2.6", "Older Current Release Date than Revision History", (*doc).olderCurrentRelease},
	{"6.2.7", "Missing Date in Involvements", (*doc).involvementDate},
	{"6.2.8", "Use of MD5 as the only Hash Algorithm", func(d *doc) { d.onlyHash("6.2.8", "md5") }},
	{"6.2.9", "Use of SHA-1 as the only Hash Algorithm", func(d *doc) { d.onlyHash("6.2.9", "sha1") }},
	{"6.2.10", "Missing TLP label", (*doc).missingTLP},
	{"6.2.11", "Missing Canonical URL", (*doc).canonicalURL},
	{"6.2.12", "Missing Document Language", (*doc).missingLang},
	{"6.2.13", "Sorting", (*doc).sorting},
	{"6.2.14", "Use of Private Language", (*doc).privateLanguage},
	{"6.2.15", "Use of Default Language", (*doc).defaultLanguage},
	{"6.2.16", "Missing Product Identification Helper", (*doc).missingHelper},
	{"6.2.17", "CVE in field IDs", (*doc).cveInIDs},
	{"6.2.18", "Product Version Range without vers", (*doc).rangeWithoutVers},
	{"6.2.19", "CVSS for Fixed Products", (*doc).cvssForFixed},
	{"6.2.20", "Additional Properties", (*doc).additionalProperties},
}

// OptionalTests lists the id and name of every optional test (6.2)
// Validate runs; their problems are warnings.
func OptionalTests() [][2]string {
	var out [][2]string
	for _, t := range optional {
		out = append(out, [2]string{t.id, t.name})
	}
	return out
}

func (d *doc) unusedProductID() {
	if d.category == informational {
		return
	}
	used := map[string]bool{}
	for _, r := range d.productRefs() {
		used[r.id] = true
	}
	for _, p := range d.productDefs() {
		if !used[p.id] {
			d.warn("6.2.1", at(p.path, "product_id"), "product %q is defined but never referenced: use it, or remove it", p.id)
		}
	}
}

// affectedKeys are the product statuses of the Affected group.
var affectedKeys = []string{"first_affected", "known_affected", "last_affected"}

func (d *doc) missingRemediation() {
	for vi, v := range d.vulns {
		covered := map[string]bool{}
		for _, r := range arr(v, "remediations") {
			for _, p := range d.expand(r) {
				covered[p] = true
			}
		}
		for _, k := range append(affectedKeys, "under_investigation") {
			for _, p := range strs(obj(v, "product_status"), k) {
				if !covered[p.s] {
					d.warn("6.2.2", at("/vulnerabilities", vi, "product_status", k, p.i), "product %q is %s without a remediation: add one (none_available and no_fix_planned are remediations too)", p.s, k)
				}
			}
		}
	}
}

func (d *doc) missingScore() {
	for vi, v := range d.vulns {
		scored := map[string]bool{}
		for _, s := range arr(v, "scores") {
			for _, p := range strs(s, "products") {
				scored[p.s] = true
			}
		}
		for _, k := range affectedKeys {
			for _, p := range strs(obj(v, "product_status"), k) {
				if !scored[p.s] {
					d.warn("6.2.3", at("/vulnerabilities", vi, "product_status", k, p.i), "product %q is %s without a score: add a score naming it", p.s, k)
				}
			}
		}
	}
}

func (d *doc) buildMetadata() {
	for i, r := range arr(d.tracking(), "revision_history") {
		if n := str(r, "number"); strings.Contains(n, "+") {
			d.warn("6.2.4", at(historyPath, i, "number"), "revision %s has build metadata: the revision history gives versions without it", n)
		}
	}
}

func (d *doc) olderInitialRelease() {
	h := d.dated()
	if len(h) == 0 {
		return
	}
	if t, err := time.Parse(time.RFC3339Nano, str(d.tracking(), "initial_release_date")); err == nil && t.Before(h[0].date) {
		d.warn("6.2.5", "/document/tracking/initial_release_date", "the initial release date is older than the oldest revision (%s): they should agree", h[0].date.Format(time.RFC3339))
	}
}

func (d *doc) olderCurrentRelease() {
	h := d.dated()
	if len(h) == 0 {
		return
	}
	if t, err := time.Parse(time.RFC3339Nano, str(d.tracking(), "current_release_date")); err == nil && t.Before(h[len(h)-1].date) {
		d.warn("6.2.6", "/document/tracking/current_release_date", "the current release date is older than the newest revision (%s): update it", h[len(h)-1].date.Format(time.RFC3339))
	}
}

// dated is the sorted revision history without items whose date is not
// a date.
func (d *doc) dated() []revision {
	var out []revision
	for _, r := range d.history() {
		if r.ok {
			out = append(out, r)
		}
	}
	return out
}

func (d *doc) involvementDate() {
	for vi, v := range d.vulns {
		for i, inv := range arr(v, "involvements") {
			if !has(inv, "date") {
				d.warn("6.2.7", at("/vulnerabilities", vi, "involvements", i), "this involvement has no date: say when")
			}
		}
	}
}

// onlyHash warns about file hashes whose only algorithm is alg.
func (d *doc) onlyHash(test, alg string) {
	for _, p := range d.productDefs() {
		for hi, h := range arr(p.helper, "hashes") {
			fh := arr(h, "file_hashes")
			only := len(fh) > 0
			for _, f := range fh {
				only = only && strings.EqualFold(str(f, "algorithm"), alg)
			}
			if only {
				d.warn(test, at(p.path, "product_identification_helper", "hashes", hi, "file_hashes"), "%s is the only hash of this file, and it has collisions: add a stronger one (sha256)", alg)
			}
		}
	}
}

func (d *doc) missingTLP() {
	if !has(obj(obj(d.document, "distribution"), "tlp"), "label") {
		d.warn("6.2.10", "/document/distribution/tlp/label", "the document has no TLP label: add /document/distribution/tlp/label")
	}
}

// filenameUnsafe is what section 5.1 replaces in a tracking id to make the
// file name.
var filenameUnsafe = regexp.MustCompile(`[^+\-a-z0-9]+`)

func (d *doc) canonicalURL() {
	name := filenameUnsafe.ReplaceAllString(strings.ToLower(str(d.tracking(), "id")), "_") + ".json"
	for _, r := range arr(d.document, "references") {
		if u := str(r, "url"); str(r, "category") == "self" && strings.HasPrefix(u, "https://") && strings.HasSuffix(u, "/"+name) {
			return
		}
	}
	d.warn("6.2.11", "/document/references", "no reference of category self is the canonical URL (https://.../%s): add it", name)
}

func (d *doc) missingLang() {
	if str(d.document, "lang") == "" {
		d.warn("6.2.12", "/document/lang", "the document language is not set: add /document/lang")
	}
}

func (d *doc) missingHelper() {
	for _, p := range d.productDefs() {
		if p.helper == nil {
			d.warn("6.2.16", p.path, "product %q has no product_identification_helper: add a purl, CPE, model or serial number so members can match it", p.id)
		}
	}
}

var cveText = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

func (d *doc) cveInIDs() {
	for vi, v := range d.vulns {
		for i, id := range arr(v, "ids") {
			if t := str(id, "text"); cveText.MatchString(t) {
				d.warn("6.2.17", at("/vulnerabilities", vi, "ids", i), "%s is a CVE: give it as the vulnerability's cve, not in ids", t)
			}
		}
	}
}

var versRange = regexp.MustCompile(`^vers:[a-z\.\-\+][a-z0-9\.\-\+]*/.+`)

func (d *doc) rangeWithoutVers() {
	d.eachBranch(func(b map[string]any, path string) {
		if str(b, "category") == "product_version_range" && !versRange.MatchString(str(b, "name")) {
			d.warn("6.2.18", at(path, "name"), "%q is not a vers range: write it as vers:<scheme>/<constraints>", str(b, "name"))
		}
	})
}
