package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/affected"
)

func init() { register(newAffectedCmd) }

// advisoryFindings is what `tocsin affected --json` prints per document.
type advisoryFindings struct {
	File     string             `json:"file"`
	Findings []affected.Finding `json:"affected"`
}

func newAffectedCmd(g *globals) *cobra.Command {
	var inventories []string
	var aliasFile string
	cmd := &cobra.Command{
		Use:   "affected --inventory FILE... DOC.json...",
		Short: "Am I affected? Match CSAF 2.0 advisories against your own inventory, offline",
		Long: `Reads your inventory (a CSV of devices with the columns vendor,product,version,
location,owner and optionally cpe,purl,serial; a CycloneDX JSON SBOM; an SPDX 2.3
JSON SBOM) and matches each CSAF 2.0 document against it on this machine:
nothing is sent anywhere. Each affected row says what, where, the advisory's
product, the status (known_affected, under_investigation, or possibly_affected
with the reason: a version range that cannot be read, a row without a version,
a product named less precisely than the advisory), the CVEs, the highest CVSS
score and the remediations. --aliases FILE adds renamings (YAML list of vendor,
product, as_vendor, as_product) to the built-in ones.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, docs []string) error {
			if len(inventories) == 0 {
				return usageErr("--inventory FILE is required (a .csv of devices, a CycloneDX or SPDX JSON SBOM)")
			}
			inv, err := affected.Load(inventories...)
			if err != nil {
				return usageErr("%v", err)
			}
			var aliases []affected.Alias
			if aliasFile != "" {
				if aliases, err = affected.LoadAliases(aliasFile); err != nil {
					return usageErr("--aliases: %v", err)
				}
			}
			m := affected.New(inv, aliases...)
			var all []advisoryFindings
			for _, d := range docs {
				data, err := os.ReadFile(d)
				if err != nil {
					return usageErr("%v", err)
				}
				fs, err := m.Match(data)
				if err != nil {
					return &exitError{ExitRejected, fmt.Errorf("%s: %w", d, err)}
				}
				all = append(all, advisoryFindings{File: d, Findings: fs})
			}
			if g.json {
				return g.printJSON(all)
			}
			return printFindings(g, len(inv.Rows), all)
		},
	}
	cmd.Flags().StringArrayVar(&inventories, "inventory", nil, "an inventory file: .csv, CycloneDX JSON or SPDX JSON (repeatable)")
	cmd.Flags().StringVar(&aliasFile, "aliases", "", "YAML file of extra vendor and product renamings")
	return cmd
}

func printFindings(g *globals, rows int, all []advisoryFindings) error {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	for _, a := range all {
		if len(a.Findings) == 0 {
			fmt.Fprintf(w, "%s: not affected (%d inventory rows checked)\n", filepath.Base(a.File), rows)
			continue
		}
		fmt.Fprintf(w, "%s: %d affected rows\n", filepath.Base(a.File), len(a.Findings))
		fmt.Fprintln(w, "  STATUS\tVENDOR\tPRODUCT\tVERSION\tLOCATION\tOWNER\tSCORE\tCVES\tADVISORY PRODUCT")
		for _, f := range a.Findings {
			score := "-"
			if f.Score > 0 {
				score = fmt.Sprintf("%.1f", f.Score)
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Status, f.Row.Vendor, f.Row.Product, orDash(f.Row.Version),
				orDash(f.Row.Location), orDash(f.Row.Owner), score, orDash(strings.Join(f.CVEs, ",")), f.Product)
			if f.Reason != "" {
				fmt.Fprintf(w, "    why possibly: %s\n", f.Reason)
			}
		}
		if rem := remediations(a.Findings); len(rem) > 0 {
			fmt.Fprintln(w, "  what to do:")
			for _, r := range rem {
				fmt.Fprintf(w, "    - %s: %s\n", r.Category, clipLine(firstLine(r.Details), 160))
			}
		}
	}
	return w.Flush()
}

func remediations(fs []affected.Finding) []affected.Remediation {
	var out []affected.Remediation
	seen := map[affected.Remediation]bool{}
	for _, f := range fs {
		for _, r := range f.Remediations {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// clipLine cuts s to n bytes with an ellipsis.
func clipLine(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}
