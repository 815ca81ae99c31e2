// Package csafschemas embeds the OASIS CSAF 2.0 JSON schemas and the FIRST
// CVSS v2.0, v3.0 and v3.1 schemas they reference (oasis-tcs/csaf commit
// 27af37f5c9a107abb166e855fa6505fc4ffaade8, as pinned in ../shared/csaf).
//
// The files are not committed: `make schemas` (scripts/csafschemas.sh)
// copies the pinned tree into csaf/ and verifies it against SHA256SUMS
// before the build; only csaf_2.0/json_schema and
// csaf_2.0/referenced_schema are embedded. The rest of the tree (the OASIS
// examples and conformance test data, CISA's ICSMA advisories) stays on
// disk for the tests of package csaf. A binary built from a fresh clone
// without that step still compiles, but Available reports false and the
// validator refuses to start with ErrSchemasMissing.
package csafschemas

import (
	"embed"
	"errors"
	"io/fs"
)

// ErrSchemasMissing says that the binary was built without the CSAF schemas.
var ErrSchemasMissing = errors.New("csaf schemas are not built into this binary: run 'make schemas' (or 'make build') and rebuild")

//go:embed all:csaf/csaf_2.0/json_schema all:csaf/csaf_2.0/referenced_schema
var embedded embed.FS

// The embedded files, as paths in FS.
const (
	// CSAF is the CSAF 2.0 schema.
	CSAF = "json_schema/csaf_json_schema.json"
	// CVSS20, CVSS30 and CVSS31 are the FIRST CVSS schemas that CSAF's
	// $refs name.
	CVSS20 = "referenced_schema/first/cvss-v2.0.json"
	CVSS30 = "referenced_schema/first/cvss-v3.0.json"
	CVSS31 = "referenced_schema/first/cvss-v3.1.json"
)

// StrictRefs maps each URL the CSAF schema's $refs use to FIRST's strict
// variant of that schema (additionalProperties false), for the CSAF test
// 6.2.20 (Additional Properties).
var StrictRefs = map[string]string{
	"https://www.first.org/cvss/cvss-v2.0.json": "referenced_schema/first/cvss-v2.0_strict.json",
	"https://www.first.org/cvss/cvss-v3.0.json": "referenced_schema/first/cvss-v3.0_strict.json",
	"https://www.first.org/cvss/cvss-v3.1.json": "referenced_schema/first/cvss-v3.1_strict.json",
}

const refCVSS31 = "https://www.first.org/cvss/cvss-v3.1.json"

// Refs maps each URL the CSAF schema's $refs use to the embedded file that
// answers it.
var Refs = map[string]string{
	"https://www.first.org/cvss/cvss-v2.0.json": CVSS20,
	"https://www.first.org/cvss/cvss-v3.0.json": CVSS30,
	"https://www.first.org/cvss/cvss-v3.1.json": CVSS31,
}

// FS returns the embedded tree, rooted at the upstream csaf_2.0/ folder:
// "json_schema/csaf_json_schema.json", "referenced_schema/first/...".
// Without the schemas it holds only the placeholders ".keep".
func FS() fs.FS {
	sub, err := fs.Sub(embedded, "csaf/csaf_2.0")
	if err != nil {
		// fs.Sub fails only on an invalid path, and this one is valid.
		panic(err)
	}
	return sub
}

// Available reports whether the schemas were embedded at build time.
func Available() bool {
	for _, p := range []string{CSAF, CVSS20, CVSS30, CVSS31, StrictRefs[refCVSS31]} {
		if _, err := fs.Stat(FS(), p); err != nil {
			return false
		}
	}
	return true
}
