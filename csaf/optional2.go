package csaf

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// privateUse reports whether a language tag has a subtag BCP 47 reserves
// for private use: a language qaa-qtz, a script Qaaa-Qabx, a region AA,
// QM-QZ, XA-XZ or ZZ, or a private-use section (x-...).
func privateUse(tag string) bool {
	for i, sub := range strings.Split(strings.ToLower(tag), "-") {
		switch {
		case sub == "x":
			return true
		case len(sub) == 1: // another extension: the rest is not language, script or region
			return false
		case i == 0 && len(sub) == 3 && sub >= "qaa" && sub <= "qtz":
			return true
		case i > 0 && len(sub) == 4 && isAlpha(sub) && sub >= "qaaa" && sub <= "qabx":
			return true
		case i > 0 && len(sub) == 2 && isAlpha(sub) && (sub == "aa" || sub == "zz" || sub >= "qm" && sub <= "qz" || sub >= "xa" && sub <= "xz"):
			return true
		}
	}
	return false
}

func isAlpha(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// eachLang calls fn for /document/lang and /document/source_lang.
func (d *doc) eachLang(fn func(tag, path string)) {
	for _, k := range []string{"lang", "source_lang"} {
		if has(d.document, k) {
			fn(str(d.document, k), at("/document", k))
		}
	}
}

func (d *doc) privateLanguage() {
	d.eachLang(func(tag, path string) {
		if privateUse(tag) {
			d.warn("6.2.14", path, "%q has a subtag reserved for private use: use a public language tag", tag)
		}
	})
}

func (d *doc) defaultLanguage() {
	d.eachLang(func(tag, path string) {
		if strings.EqualFold(tag, "i-default") {
			d.warn("6.2.15", path, "i-default is not a language: give the document's language")
		}
	})
}

// maxSortProblems caps the 6.2.13 warnings of one document.
const maxSortProblems = 10

// sorting is 6.2.13: the keys of every object are in alphabetical order.
// It scans the document's own bytes (the tree has no key order; the input
// is known to be JSON by now), allocating only to report.
func (d *doc) sorting() {
	type frame struct {
		obj, expectKey bool
		key, last      []byte // the current and the previous key
		idx            int
	}
	var stack []frame
	raw, found := d.raw, 0
	path := func(key []byte) string {
		var b strings.Builder
		for _, f := range stack[:len(stack)-1] {
			if f.obj {
				b.WriteString(at("", jsonString(f.key)))
			} else {
				b.WriteString(at("", f.idx))
			}
		}
		b.WriteString(at("", jsonString(key)))
		return b.String()
	}
	for i := 0; i < len(raw) && found < maxSortProblems; i++ {
		switch raw[i] {
		case '{':
			stack = append(stack, frame{obj: true, expectKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if f := &stack[len(stack)-1]; f.obj {
				f.expectKey = true
			} else {
				f.idx++
			}
		case '"':
			j := i + 1
			for ; j < len(raw) && raw[j] != '"'; j++ {
				if raw[j] == '\\' {
					j++
				}
			}
			if len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].expectKey {
				f := &stack[len(stack)-1]
				k := raw[i+1 : j]
				if f.last != nil && jsonString(k) < jsonString(f.last) {
					d.warn("6.2.13", path(k), "key %q comes after %q: sort the keys of this object alphabetically", jsonString(k), jsonString(f.last))
					found++
				}
				f.key, f.last, f.expectKey = k, k, false
			}
			i = j
		}
	}
}

// jsonString is the value of a JSON string's body (between the quotes).
func jsonString(body []byte) string {
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body)
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, body...), '"'), &s); err != nil {
		return string(body)
	}
	return s
}

// cvssForFixed is 6.2.19: a score of a fixed product has an environmental
// score of 0 (the property, or else the vector with the modified-metric
// properties).
func (d *doc) cvssForFixed() {
	for vi, v := range d.vulns {
		fixed := map[string]bool{}
		for _, k := range []string{"first_fixed", "fixed"} {
			for _, p := range strs(obj(v, "product_status"), k) {
				fixed[p.s] = true
			}
		}
		for si, s := range arr(v, "scores") {
			hit := ""
			for _, p := range strs(s, "products") {
				if fixed[p.s] {
					hit = p.s
					break
				}
			}
			if hit == "" {
				continue
			}
			for _, k := range []string{"cvss_v2", "cvss_v3"} {
				c := obj(s, k)
				if c == nil {
					continue
				}
				env, ok := num(c, "environmentalScore")
				if !ok {
					env, ok = environmental(c, k)
				}
				if ok && env != 0 {
					d.warn("6.2.19", at("/vulnerabilities", vi, "scores", si, k), "product %q is fixed but this score's environmental score is %.1f: set the modified impacts to NONE for fixed products", hit, env)
				}
			}
		}
	}
}

// environmental computes a CVSS object's environmental score from its
// vector, the metric properties overriding it.
func environmental(c map[string]any, key string) (float64, bool) {
	override := func(metrics map[string]string, props map[string]struct {
		metric string
		values map[string]string
	}) {
		for name, p := range props {
			if letter, ok := p.values[str(c, name)]; ok {
				metrics[p.metric] = letter
			}
		}
	}
	if key == "cvss_v2" {
		v, ok := parseCVSS2(str(c, "vectorString"))
		if !ok {
			return 0, false
		}
		override(v, cvss2Props)
		_, _, env := v.scores()
		return env, true
	}
	v, ok := parseCVSS3(str(c, "vectorString"))
	if !ok {
		return 0, false
	}
	override(v.metrics, cvss3Props)
	_, _, env := v.scores()
	return env, true
}

// additionalProperties is 6.2.20: no property the CSAF schema does not
// define, checked with the strict schema (additionalProperties false on
// every object, and FIRST's strict CVSS schemas).
func (d *doc) additionalProperties() {
	err := d.schemas.strict.Validate(d.root)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
			for _, p := range ap.Properties {
				d.warn("6.2.20", pointer(append(slices.Clone(e.InstanceLocation), p)), "property %q is not defined by the CSAF 2.0 schema: remove it, or move its content to a defined property", p)
			}
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
}
