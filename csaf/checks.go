package csaf

import "fmt"

// doc is a document being checked, with what several tests share.
type doc struct {
	root     any
	document map[string]any // /document
	tree     map[string]any // /product_tree
	vulns    []any          // /vulnerabilities
	category string         // /document/category
	// groups maps each product group id to its product ids.
	groups map[string][]string
	// schemas validate the CVSS objects (6.1.8) and strictly (6.2.20).
	schemas *schemas
	// raw is the document's bytes (6.2.13 reads the order of keys).
	raw []byte
	// defs and refs cache productDefs and productRefs, which several
	// tests read.
	defs *[]productDef
	refs *[]ref
	out  []Problem
}

func newDoc(root any, s *schemas) *doc {
	d := &doc{root: root, schemas: s, document: obj(root, "document"), tree: obj(root, "product_tree"), vulns: arr(root, "vulnerabilities")}
	d.category = str(d.document, "category")
	d.groups = map[string][]string{}
	for _, g := range arr(d.tree, "product_groups") {
		id := str(g, "group_id")
		for _, p := range strs(g, "product_ids") {
			d.groups[id] = append(d.groups[id], p.s)
		}
	}
	return d
}

// fail records a problem of a mandatory test.
func (d *doc) fail(test, path, format string, args ...any) {
	d.out = append(d.out, Problem{Test: test, Path: path, Severity: Error, Message: fmt.Sprintf(format, args...)})
}

// test is one test of the standard.
type test struct {
	id, name string
	run      func(*doc)
}

// mandatory is every test of section 6.1, in the standard's order.
var mandatory = []test{
	{"6.1.1", "Missing Definition of Product ID", (*doc).missingProductID},
	{"6.1.2", "Multiple Definition of Product ID", (*doc).multipleProductID},
	{"6.1.3", "Circular Definition of Product ID", (*doc).circularProductID},
	{"6.1.4", "Missing Definition of Product Group ID", (*doc).missingGroupID},
	{"6.1.5", "Multiple Definition of Product Group ID", (*doc).multipleGroupID},
	{"6.1.6", "Contradicting Product Status", (*doc).contradictingStatus},
	{"6.1.7", "Multiple Scores with same Version per Product", (*doc).multipleScores},
	{"6.1.8", "Invalid CVSS", (*doc).invalidCVSS},
	{"6.1.9", "Invalid CVSS computation", (*doc).cvssComputation},
	{"6.1.10", "Inconsistent CVSS", (*doc).cvssConsistent},
	{"6.1.11", "CWE", (*doc).cwe},
	{"6.1.12", "Language", (*doc).language},
	{"6.1.13", "PURL", (*doc).purl},
	{"6.1.14", "Sorted Revision History", (*doc).sortedRevisions},
	{"6.1.15", "Translator", (*doc).translator},
	{"6.1.16", "Latest Document Version", (*doc).latestVersion},
	{"6.1.17", "Document Status Draft", (*doc).statusDraft},
	{"6.1.18", "Released Revision History", (*doc).releasedRevisions},
	{"6.1.19", "Revision History Entries for Pre-release Versions", (*doc).prereleaseRevisions},
	{"6.1.20", "Non-draft Document Version", (*doc).nonDraftVersion},
	{"6.1.21", "Missing Item in Revision History", (*doc).missingRevision},
	{"6.1.22", "Multiple Definition in Revision History", (*doc).multipleRevision},
	{"6.1.23", "Multiple Use of Same CVE", (*doc).multipleCVE},
	{"6.1.24", "Multiple Definition in Involvements", (*doc).multipleInvolvements},
	{"6.1.25", "Multiple Use of Same Hash Algorithm", (*doc).multipleHashAlgorithm},
	{"6.1.26", "Prohibited Document Category Name", (*doc).prohibitedCategory},
	{"6.1.27.1", "Document Notes", (*doc).profileNotes},
	{"6.1.27.2", "Document References", (*doc).profileReferences},
	{"6.1.27.3", "Vulnerabilities", (*doc).profileNoVulnerabilities},
	{"6.1.27.4", "Product Tree", (*doc).profileProductTree},
	{"6.1.27.5", "Vulnerability Notes", (*doc).profileVulnerabilityNotes},
	{"6.1.27.6", "Product Status", (*doc).profileProductStatus},
	{"6.1.27.7", "VEX Product Status", (*doc).profileVEXStatus},
	{"6.1.27.8", "Vulnerability ID", (*doc).profileVulnerabilityID},
	{"6.1.27.9", "Impact Statement", (*doc).profileImpactStatement},
	{"6.1.27.10", "Action Statement", (*doc).profileActionStatement},
	{"6.1.27.11", "Vulnerabilities", (*doc).profileVulnerabilities},
	{"6.1.28", "Translation", (*doc).translation},
	{"6.1.29", "Remediation without Product Reference", (*doc).remediationReference},
	{"6.1.30", "Mixed Integer and Semantic Versioning", (*doc).mixedVersioning},
	{"6.1.31", "Version Range in Product Version", (*doc).versionRange},
	{"6.1.32", "Flag without Product Reference", (*doc).flagReference},
	{"6.1.33", "Multiple Flags with VEX Justification Codes per Product", (*doc).multipleVEXFlags},
}

// Tests lists the id and name of every mandatory test Validate runs.
func Tests() [][2]string {
	var out [][2]string
	for _, t := range mandatory {
		out = append(out, [2]string{t.id, t.name})
	}
	return out
}
