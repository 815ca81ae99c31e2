package affected

import (
	"strings"
	"unicode"
)

// legal are the words of a company's legal form, left out when names are
// compared ("Becton, Dickinson and Company" is "becton dickinson").
var legal = map[string]bool{"inc": true, "corp": true, "corporation": true, "co": true, "company": true, "ltd": true, "llc": true,
	"gmbh": true, "ag": true, "sa": true, "nv": true, "plc": true, "the": true, "and": true, "of": true, "limited": true, "incorporated": true}

// tokens is a name as words: lower case, letters and digits only, legal
// forms dropped.
func tokens(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := f[:0]
	for _, w := range f {
		if !legal[w] {
			out = append(out, w)
		}
	}
	return out
}

// within reports whether every word of a is a word of b (a non-empty).
func within(a, b []string) bool {
	if len(a) == 0 {
		return false
	}
	for _, w := range a {
		found := false
		for _, x := range b {
			if w == x {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Alias says that a vendor (and product, when set) of the inventory is
// published under another name: a relabelled device, a maker that was
// bought. The member extends the built-in table in the agent's config.
type Alias struct {
	// Vendor and Product are as the inventory names them (Product empty:
	// every product of Vendor).
	Vendor  string `yaml:"vendor" json:"vendor"`
	Product string `yaml:"product,omitempty" json:"product,omitempty"`
	// AsVendor and AsProduct are as advisories name them (AsProduct empty:
	// the same product name).
	AsVendor  string `yaml:"as_vendor" json:"as_vendor"`
	AsProduct string `yaml:"as_product,omitempty" json:"as_product,omitempty"`
}

// DefaultAliases are the renamings every member gets.
var DefaultAliases = []Alias{
	{Vendor: "BD", AsVendor: "Becton Dickinson"},
	{Vendor: "Abbott", AsVendor: "St. Jude Medical"},
	{Vendor: "St. Jude Medical", AsVendor: "Abbott"},
	{Vendor: "GE", AsVendor: "GE Healthcare"},
	{Vendor: "Philips Healthcare", AsVendor: "Philips"},
	{Vendor: "Siemens", AsVendor: "Siemens Healthineers"},
	{Vendor: "Carefusion", AsVendor: "Becton Dickinson"},
}
