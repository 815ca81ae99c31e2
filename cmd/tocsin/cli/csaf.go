package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/csaf"
)

func init() { register(newCSAFCmd) }

func newCSAFCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "csaf",
		Short: "Work with CSAF 2.0 advisories offline (validate)",
	}
	cmd.AddCommand(newCSAFValidateCmd(g))
	return cmd
}

// csafVerdict is what `tocsin csaf validate --json` prints per file.
type csafVerdict struct {
	File     string         `json:"file"`
	Valid    bool           `json:"valid"`
	Problems []csaf.Problem `json:"problems"`
}

func newCSAFValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check CSAF 2.0 documents: the OASIS JSON schema and every mandatory test (6.1)",
		Long: `Validates each CSAF 2.0 document on this machine, nothing fetched: the OASIS
CSAF 2.0 JSON schema (with the FIRST CVSS schemas) and every mandatory test of
section 6.1 of the standard (6.1.1 to 6.1.33, the profile tests 6.1.27.1 to
6.1.27.11). Each problem says its test ("schema" or 6.1.x), a JSON pointer to
the value at fault and what to correct. Exit 0 when every document is valid,
2 when any is not, 1 when a file cannot be read.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var all []csafVerdict
			invalid := 0
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return usageErr("%v", err)
				}
				r, err := csaf.Validate(data)
				if err != nil {
					return usageErr("%v", err)
				}
				if !r.Valid() {
					invalid++
				}
				all = append(all, csafVerdict{File: f, Valid: r.Valid(), Problems: r.Problems})
			}
			if g.json {
				if err := g.printJSON(all); err != nil {
					return err
				}
			} else {
				printCSAFVerdicts(g, all)
			}
			if invalid > 0 {
				return &exitError{ExitRejected, fmt.Errorf("%d of %d documents are not valid CSAF 2.0", invalid, len(files))}
			}
			return nil
		},
	}
}

func printCSAFVerdicts(g *globals, all []csafVerdict) {
	for _, v := range all {
		if v.Valid {
			fmt.Fprintf(g.stdout, "%s: valid\n", v.File)
			continue
		}
		fmt.Fprintf(g.stdout, "%s: invalid, %d problems\n", v.File, len(v.Problems))
		for _, p := range v.Problems {
			path := p.Path
			if path == "" {
				path = "(document)"
			}
			fmt.Fprintf(g.stdout, "  %s %s %s: %s\n", p.Severity, p.Test, path, p.Message)
		}
	}
}
