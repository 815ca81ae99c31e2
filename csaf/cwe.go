package csaf

import (
	_ "embed"
	"regexp"
	"strings"
	"sync"
)

// cweTSV is the pinned CWE catalogue (testdata/CWE-SOURCE.md): "CWE-<id>",
// a tab, the name, one weakness a line.
//
//go:embed cwe.tsv
var cweTSV string

var (
	cweOnce  sync.Once
	cweNames map[string]string
)

// cweName returns the catalogue's name of a CWE id.
func cweName(id string) (string, bool) {
	cweOnce.Do(func() {
		cweNames = map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(cweTSV), "\n") {
			if k, v, ok := strings.Cut(line, "\t"); ok {
				cweNames[k] = v
			}
		}
	})
	name, ok := cweNames[id]
	return name, ok
}

var cweID = regexp.MustCompile(`^CWE-[1-9]\d{0,5}$`)

// cwe is 6.1.11: the CWE exists and the name is its name.
func (d *doc) cwe() {
	for vi, v := range d.vulns {
		c := obj(v, "cwe")
		if c == nil {
			continue
		}
		id, name, path := str(c, "id"), str(c, "name"), at("/vulnerabilities", vi, "cwe")
		want, ok := cweName(id)
		switch {
		case !cweID.MatchString(id):
			d.fail("6.1.11", at(path, "id"), "%q is not a CWE id (CWE-<number>)", id)
		case !ok:
			d.fail("6.1.11", at(path, "id"), "%s is not a weakness of the CWE catalogue (version 4.20): correct the id", id)
		case name != want:
			d.fail("6.1.11", at(path, "name"), "%s is named %q in the CWE catalogue (version 4.20), not %q: correct the name", id, want, name)
		}
	}
}
