// Package examples holds the files of the scenario "The night St. Mary's
// went down" (../shared/SCENARIO.md): the STIX 2.1 bundles St. Mary's and
// Lakeside Children's publish, the TLP:RED note to the responders, the HHS
// advisory and the malformed export a misconfigured script sends. The
// README's tour uses them from the checkout; `tocsin demo` plays them from
// this embedded copy, so both show the same files.
package examples

import "embed"

// FS is every example file, by its name ("st-mary-ransomware.json").
//
//go:embed *.json *.md
var FS embed.FS
