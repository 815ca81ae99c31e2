package affected

import (
	"fmt"
	"slices"
	"strings"

	"github.com/package-url/packageurl-go"
)

// Statuses of a finding.
const (
	KnownAffected      = "known_affected"
	UnderInvestigation = "under_investigation"
	// PossiblyAffected: the row may be affected, the match could not
	// decide (a range not understood, no version in the inventory, a
	// product named less precisely than the advisory); Reason says why.
	PossiblyAffected = "possibly_affected"
)

// Finding is one inventory row that matched one product of an advisory.
type Finding struct {
	Row       Row    `json:"row"`
	ProductID string `json:"product_id"`
	// Product is the product's full name in the advisory.
	Product string `json:"product"`
	// Status is KnownAffected, UnderInvestigation or PossiblyAffected.
	Status string `json:"status"`
	// Reason says why a finding is only possibly affected.
	Reason string `json:"reason,omitempty"`
	// CVEs are the vulnerabilities that affect the product.
	CVEs []string `json:"cves,omitempty"`
	// Remediations are what the advisory says to do for the product.
	Remediations []Remediation `json:"remediations,omitempty"`
	// Score is the highest CVSS v3 base score for the product (0: none).
	Score    float64 `json:"score,omitempty"`
	Severity string  `json:"severity,omitempty"`
}

// Remediation is one of the advisory's remediations.
type Remediation struct {
	Category string `json:"category"`
	Details  string `json:"details"`
	URL      string `json:"url,omitempty"`
}

// Matcher matches advisories against one inventory; build it once per
// inventory (New), match many documents.
type Matcher struct {
	rows     []indexed
	byVendor map[string][]int
	byName   map[string][]int
	byPURL   map[string][]int
}

type indexed struct {
	Row
	vendor, product []string
	purl            *packageurl.PackageURL
}

// New indexes inv, the aliases (DefaultAliases and extra) applied.
func New(inv *Inventory, extra ...Alias) *Matcher {
	m := &Matcher{byVendor: map[string][]int{}, byName: map[string][]int{}, byPURL: map[string][]int{}}
	aliases := append(slices.Clone(DefaultAliases), extra...)
	for _, r := range inv.Rows {
		add := func(vendor, product string) {
			ix := indexed{Row: r, vendor: tokens(vendor), product: tokens(product)}
			if r.PURL != "" {
				if p, err := packageurl.FromString(r.PURL); err == nil {
					ix.purl = &p
					key := p.Type + "/" + p.Namespace + "/" + p.Name
					m.byPURL[key] = append(m.byPURL[key], len(m.rows))
				}
			}
			i := len(m.rows)
			m.rows = append(m.rows, ix)
			for _, w := range ix.vendor {
				m.byVendor[w] = append(m.byVendor[w], i)
			}
			for _, w := range ix.product {
				m.byName[w] = append(m.byName[w], i)
			}
		}
		add(r.Vendor, r.Product)
		for _, a := range aliases {
			if strings.EqualFold(a.Vendor, r.Vendor) && (a.Product == "" || strings.EqualFold(a.Product, r.Product)) {
				p := r.Product
				if a.AsProduct != "" {
					p = a.AsProduct
				}
				add(a.AsVendor, p)
			}
		}
	}
	return m
}

// Match matches one CSAF document.
func (m *Matcher) Match(doc []byte) ([]Finding, error) {
	d, err := decodeDocument(doc)
	if err != nil {
		return nil, err
	}
	status := map[string]string{}
	for _, v := range d.Vulnerabilities {
		for st, ids := range v.ProductStatus {
			for _, id := range ids {
				switch st {
				case "known_affected", "first_affected", "last_affected":
					status[id] = KnownAffected
				case "under_investigation":
					if status[id] == "" {
						status[id] = UnderInvestigation
					}
				}
			}
		}
	}
	seen := map[string]bool{}
	var out []Finding
	for _, c := range d.candidates() {
		st := status[c.ID]
		if st == "" {
			continue // fixed, not affected, or in no status
		}
		for _, i := range m.rowsFor(c) {
			r := &m.rows[i]
			ok, reason := c.matches(r)
			if !ok {
				continue
			}
			key := r.Source + "\x00" + c.ID
			if seen[key] {
				continue
			}
			seen[key] = true
			f := Finding{Row: r.Row, ProductID: c.ID, Product: c.FullName, Status: st}
			if reason != "" {
				f.Status, f.Reason = PossiblyAffected, reason
			}
			d.annotate(&f)
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return strings.Compare(a.Row.Source+a.ProductID, b.Row.Source+b.ProductID)
	})
	return out, nil
}

// rowsFor is the rows worth comparing with c: by purl, else by the words
// of its vendor, else of its name.
func (m *Matcher) rowsFor(c candidate) []int {
	if c.PURL != "" {
		if p, err := packageurl.FromString(c.PURL); err == nil {
			return m.byPURL[p.Type+"/"+p.Namespace+"/"+p.Name]
		}
	}
	var from map[string][]int
	words := tokens(c.Vendor)
	from = m.byVendor
	if len(words) == 0 {
		words, from = tokens(c.Name), m.byName
	}
	var out []int
	for _, w := range words {
		out = append(out, from[w]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// matches decides whether row r is product c; reason is set when it may
// be but the match cannot tell.
func (c candidate) matches(r *indexed) (bool, string) {
	if c.PURL != "" && r.purl != nil {
		p, err := packageurl.FromString(c.PURL)
		if err != nil || p.Type != r.purl.Type || p.Namespace != r.purl.Namespace || p.Name != r.purl.Name {
			return false, ""
		}
		if p.Version != "" {
			return c.versionIs(p.Version, r.purl.Version)
		}
		return c.inRange(r.purl.Version)
	}
	if c.CPE != "" && r.CPE != "" {
		cf, rf := strings.Split(c.CPE, ":"), strings.Split(r.CPE, ":")
		if len(cf) < 6 || len(rf) < 6 || cf[3] != rf[3] || cf[4] != rf[4] {
			return false, ""
		}
		if cf[5] != "*" && cf[5] != "-" {
			return c.versionIs(cf[5], rf[5])
		}
		return c.inRange(rf[5])
	}
	vendor, name := tokens(c.Vendor), tokens(c.Name)
	if len(vendor) > 0 && !within(vendor, r.vendor) && !within(r.vendor, vendor) {
		return false, ""
	}
	vague := false
	switch {
	case within(name, r.product):
	case within(r.product, name):
		vague = true
	default:
		return false, ""
	}
	ok, reason := c.inRange(r.Version)
	if ok && reason == "" && vague {
		reason = fmt.Sprintf("the inventory names %q, the advisory the more precise %q", r.Product, c.Name)
	}
	return ok, reason
}

// inRange applies c's version or range to the row's version v.
func (c candidate) inRange(v string) (bool, string) {
	switch {
	case c.RangeErr != nil:
		return true, c.RangeErr.Error()
	case c.Range != nil:
		in, ok := c.Range.Contains(v)
		if !ok {
			return true, fmt.Sprintf("the inventory gives no version the range %q can be applied to", c.Range.Text)
		}
		return in, ""
	case c.Version != "":
		return c.versionIs(c.Version, v)
	}
	return true, "" // the advisory names no version: every version
}

func (c candidate) versionIs(want, v string) (bool, string) {
	if !comparable(v) {
		return true, fmt.Sprintf("the inventory gives no version to compare with %q", want)
	}
	if !comparable(want) {
		return true, fmt.Sprintf("the advisory's version %q cannot be compared", want)
	}
	cmp, _ := compareVersions(v, want)
	return cmp == 0, ""
}

// annotate adds the CVEs, remediations and the highest score that concern
// f's product.
func (d *document) annotate(f *Finding) {
	for _, v := range d.Vulnerabilities {
		affects := false
		for _, ids := range v.ProductStatus {
			if slices.Contains(ids, f.ProductID) {
				affects = true
			}
		}
		if !affects {
			continue
		}
		if v.CVE != "" && !slices.Contains(f.CVEs, v.CVE) {
			f.CVEs = append(f.CVEs, v.CVE)
		}
		for _, r := range v.Remediations {
			rem := Remediation{Category: r.Category, Details: r.Details, URL: r.URL}
			if slices.Contains(r.ProductIDs, f.ProductID) && !slices.Contains(f.Remediations, rem) {
				f.Remediations = append(f.Remediations, rem)
			}
		}
		for _, s := range v.Scores {
			if s.CVSS3 != nil && slices.Contains(s.Products, f.ProductID) && s.CVSS3.BaseScore > f.Score {
				f.Score, f.Severity = s.CVSS3.BaseScore, s.CVSS3.BaseSeverity
			}
		}
	}
}
