package csaf

import (
	"strings"
	"time"

	"github.com/package-url/packageurl-go"
	"golang.org/x/text/language"
)

// language is 6.1.12: /document/lang and source_lang are language tags
// whose subtags exist (BCP 47, the IANA registry golang.org/x/text holds).
func (d *doc) language() {
	for _, k := range []string{"lang", "source_lang"} {
		if !has(d.document, k) {
			continue
		}
		tag := str(d.document, k)
		if _, err := language.Parse(tag); err != nil {
			d.fail("6.1.12", at("/document", k), "%q is not a valid language tag (%v): use a BCP 47 tag such as en or en-US", tag, err)
		}
	}
}

// purl is 6.1.13: every product identification helper's purl is valid.
func (d *doc) purl() {
	for _, p := range d.productDefs() {
		if !has(p.helper, "purl") {
			continue
		}
		s := str(p.helper, "purl")
		if _, err := packageurl.FromString(s); err != nil {
			d.fail("6.1.13", at(p.path, "product_identification_helper", "purl"), "%q is not a valid package URL (%v): correct it (pkg:type/namespace/name@version)", s, err)
		}
	}
}

// translator is 6.1.15: a translator's document says its source language.
func (d *doc) translator() {
	if str(obj(d.document, "publisher"), "category") == "translator" && !has(d.document, "source_lang") {
		d.fail("6.1.15", "/document/source_lang", "the publisher is a translator but /document/source_lang is missing: give the language translated from")
	}
}

// translation is 6.1.28: a translation's languages differ.
func (d *doc) translation() {
	lang, src := str(d.document, "lang"), str(d.document, "source_lang")
	if has(d.document, "lang") && has(d.document, "source_lang") && strings.EqualFold(lang, src) {
		d.fail("6.1.28", "/document/source_lang", "the document language and the source language are both %q: a translation has another language, or remove source_lang", lang)
	}
}

func (d *doc) multipleCVE() {
	seen := map[string]int{}
	for vi, v := range d.vulns {
		if !has(v, "cve") {
			continue
		}
		cve := str(v, "cve")
		if prev, ok := seen[cve]; ok {
			d.fail("6.1.23", at("/vulnerabilities", vi, "cve"), "%s is already the CVE of /vulnerabilities/%d: describe each CVE in one vulnerability", cve, prev)
			continue
		}
		seen[cve] = vi
	}
}

func (d *doc) multipleInvolvements() {
	for vi, v := range d.vulns {
		seen := map[[2]string]bool{}
		for i, inv := range arr(v, "involvements") {
			date := str(inv, "date")
			if t, err := time.Parse(time.RFC3339Nano, date); err == nil {
				date = t.UTC().Format(time.RFC3339Nano)
			}
			key := [2]string{str(inv, "party"), date}
			if seen[key] {
				d.fail("6.1.24", at("/vulnerabilities", vi, "involvements", i), "party %s already has an involvement at %s: give one involvement per party and date", key[0], str(inv, "date"))
			}
			seen[key] = true
		}
	}
}

func (d *doc) multipleHashAlgorithm() {
	for _, p := range d.productDefs() {
		for hi, h := range arr(p.helper, "hashes") {
			seen := map[string]bool{}
			for fi, f := range arr(h, "file_hashes") {
				alg := strings.ToLower(str(f, "algorithm"))
				if seen[alg] {
					d.fail("6.1.25", at(p.path, "product_identification_helper", "hashes", hi, "file_hashes", fi, "algorithm"), "hash algorithm %s is used twice for this file: give one value per algorithm", alg)
				}
				seen[alg] = true
			}
		}
	}
}

// profileCategories are the document categories of the profiles of CSAF
// 2.0 (section 4); 6.1.26 skips them.
var profileCategories = []string{"csaf_base", "csaf_security_incident_response", "csaf_informational_advisory", "csaf_security_advisory", "csaf_vex"}

// prohibitedCategory is 6.1.26: a CSAF Base document's category is not a
// profile's name or value in disguise, and does not use the prefix csaf_.
func (d *doc) prohibitedCategory() {
	cat := d.category
	for _, c := range profileCategories {
		if cat == c {
			return
		}
	}
	squash := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '-' || r == '_' || r == ' ' || r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, strings.ToLower(s))
	}
	got := squash(cat)
	for _, c := range profileCategories[1:] {
		if got == squash(c) || got == squash(strings.TrimPrefix(c, "csaf_")) {
			d.fail("6.1.26", "/document/category", "%q is the name of the profile %s: use %s and its rules, or another category", cat, c, c)
			return
		}
	}
	if strings.HasPrefix(strings.ToLower(cat), "csaf_") {
		d.fail("6.1.26", "/document/category", "%q starts with the reserved prefix csaf_: only the profiles' own values may", cat)
	}
}

// rangeWords are the words that make a product_version name a range
// (6.1.31), besides the comparison operators.
var rangeWords = map[string]bool{"after": true, "all": true, "before": true, "earlier": true, "later": true, "prior": true, "versions": true}

// versionRange is 6.1.31: a product_version branch names one version.
func (d *doc) versionRange() {
	d.eachBranch(func(b map[string]any, path string) {
		if str(b, "category") != "product_version" {
			return
		}
		name := strings.ToLower(str(b, "name"))
		// A vers string ("vers:all/*", "vers:generic/<2.0") is a range by
		// definition, though the standard's shortcut list misses it.
		found := strings.ContainsAny(name, "<>") || strings.HasPrefix(name, "vers:")
		for _, w := range strings.Fields(name) {
			found = found || rangeWords[w]
		}
		if found {
			d.fail("6.1.31", at(path, "name"), "%q is a version range, not a version: use the branch category product_version_range (with vers) for ranges", str(b, "name"))
		}
	})
}
