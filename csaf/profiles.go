package csaf

// The profile tests (6.1.27) apply to the documents of the named
// categories only.

// in reports whether the document's category is one of cats.
func (d *doc) in(cats ...string) bool {
	for _, c := range cats {
		if d.category == c {
			return true
		}
	}
	return false
}

const (
	incident      = "csaf_security_incident_response"
	informational = "csaf_informational_advisory"
	advisory      = "csaf_security_advisory"
	vex           = "csaf_vex"
)

func (d *doc) profileNotes() {
	if !d.in(informational, incident) {
		return
	}
	for _, n := range arr(d.document, "notes") {
		switch str(n, "category") {
		case "description", "details", "general", "summary":
			return
		}
	}
	d.fail("6.1.27.1", "/document/notes", "a %s document needs a note of category description, details, general or summary", d.category)
}

func (d *doc) profileReferences() {
	if !d.in(informational, incident) {
		return
	}
	for _, r := range arr(d.document, "references") {
		if str(r, "category") == "external" {
			return
		}
	}
	d.fail("6.1.27.2", "/document/references", "a %s document needs a reference of category external", d.category)
}

func (d *doc) profileNoVulnerabilities() {
	if d.in(informational) && has(d.root, "vulnerabilities") {
		d.fail("6.1.27.3", "/vulnerabilities", "a csaf_informational_advisory has no vulnerabilities: remove them, or use csaf_security_advisory")
	}
}

func (d *doc) profileProductTree() {
	if d.in(advisory, vex) && !has(d.root, "product_tree") {
		d.fail("6.1.27.4", "/product_tree", "a %s document needs a product_tree", d.category)
	}
}

func (d *doc) profileVulnerabilities() {
	if d.in(advisory, vex) && !has(d.root, "vulnerabilities") {
		d.fail("6.1.27.11", "/vulnerabilities", "a %s document needs vulnerabilities", d.category)
	}
}

// eachVuln calls fn for each vulnerability of a document of the categories.
func (d *doc) eachVuln(cats []string, fn func(v any, path string)) {
	if !d.in(cats...) {
		return
	}
	for vi, v := range d.vulns {
		fn(v, at("/vulnerabilities", vi))
	}
}

func (d *doc) profileVulnerabilityNotes() {
	d.eachVuln([]string{advisory, vex}, func(v any, path string) {
		if !has(v, "notes") {
			d.fail("6.1.27.5", at(path, "notes"), "each vulnerability of a %s document needs notes", d.category)
		}
	})
}

func (d *doc) profileProductStatus() {
	d.eachVuln([]string{advisory}, func(v any, path string) {
		if !has(v, "product_status") {
			d.fail("6.1.27.6", at(path, "product_status"), "each vulnerability of a csaf_security_advisory needs a product_status")
		}
	})
}

func (d *doc) profileVEXStatus() {
	d.eachVuln([]string{vex}, func(v any, path string) {
		ps := obj(v, "product_status")
		for _, k := range []string{"fixed", "known_affected", "known_not_affected", "under_investigation"} {
			if has(ps, k) {
				return
			}
		}
		d.fail("6.1.27.7", at(path, "product_status"), "a VEX vulnerability needs at least one of fixed, known_affected, known_not_affected or under_investigation")
	})
}

func (d *doc) profileVulnerabilityID() {
	d.eachVuln([]string{vex}, func(v any, path string) {
		if !has(v, "cve") && !has(v, "ids") {
			d.fail("6.1.27.8", path, "a VEX vulnerability needs a cve or ids")
		}
	})
}

func (d *doc) profileImpactStatement() {
	d.eachVuln([]string{vex}, func(v any, path string) {
		covered := map[string]bool{}
		for _, f := range arr(v, "flags") {
			for _, p := range d.expand(f) {
				covered[p] = true
			}
		}
		for _, t := range arr(v, "threats") {
			if str(t, "category") == "impact" {
				for _, p := range d.expand(t) {
					covered[p] = true
				}
			}
		}
		for _, p := range strs(obj(v, "product_status"), "known_not_affected") {
			if !covered[p.s] {
				d.fail("6.1.27.9", at(path, "product_status", "known_not_affected", p.i), "product %q is known_not_affected without an impact statement: add a flag or an impact threat naming it", p.s)
			}
		}
	})
}

func (d *doc) profileActionStatement() {
	d.eachVuln([]string{vex}, func(v any, path string) {
		covered := map[string]bool{}
		for _, r := range arr(v, "remediations") {
			for _, p := range d.expand(r) {
				covered[p] = true
			}
		}
		for _, p := range strs(obj(v, "product_status"), "known_affected") {
			if !covered[p.s] {
				d.fail("6.1.27.10", at(path, "product_status", "known_affected", p.i), "product %q is known_affected without an action statement: add a remediation naming it", p.s)
			}
		}
	})
}
