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
		Short: "Work with CSAF 2.0 advisories: validate offline, publish (liaison)",
	}
	cmd.AddCommand(newCSAFValidateCmd(g), newCSAFPublishCmd(g))
	return cmd
}

// csafVerdict is what `tocsin csaf validate --json` prints per file.
type csafVerdict struct {
	File     string         `json:"file"`
	Valid    bool           `json:"valid"`
	Problems []csaf.Problem `json:"problems"`
}

func newCSAFValidateCmd(g *globals) *cobra.Command {
	var warnings bool
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check CSAF 2.0 documents: the OASIS JSON schema, every mandatory test (6.1), 6.2 and 6.3 as warnings",
		Long: `Validates each CSAF 2.0 document on this machine, nothing fetched: the OASIS
CSAF 2.0 JSON schema (with the FIRST CVSS schemas) and every mandatory test of
section 6.1 of the standard (6.1.1 to 6.1.33, the profile tests 6.1.27.1 to
6.1.27.11), which are errors, and the optional (6.2.1 to 6.2.20) and
informative tests (6.3, but 6.3.6 to 6.3.8, which need the network or a
dictionary), which are warnings. Each problem says its test ("schema", 6.1.x,
6.2.x, 6.3.x), a JSON pointer to the value at fault and what to correct. Exit 0 when
every document is valid (warnings or not), 2 when any is not, 1 when a file
cannot be read.`,
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
				printCSAFVerdicts(g, all, warnings)
			}
			if invalid > 0 {
				return &exitError{ExitRejected, fmt.Errorf("%d of %d documents are not valid CSAF 2.0", invalid, len(files))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&warnings, "warnings", true, "list the warnings of the optional and informative tests (6.2, 6.3), not only their count")
	return cmd
}

func printCSAFVerdicts(g *globals, all []csafVerdict, warnings bool) {
	for _, v := range all {
		errs, warns := 0, 0
		for _, p := range v.Problems {
			if p.Severity == csaf.Error {
				errs++
			} else {
				warns++
			}
		}
		switch {
		case v.Valid && warns == 0:
			fmt.Fprintf(g.stdout, "%s: valid\n", v.File)
		case v.Valid:
			fmt.Fprintf(g.stdout, "%s: valid, %d warnings\n", v.File, warns)
		default:
			fmt.Fprintf(g.stdout, "%s: invalid, %d errors, %d warnings\n", v.File, errs, warns)
		}
		for _, p := range v.Problems {
			if p.Severity == csaf.Warning && !warnings {
				continue
			}
			path := p.Path
			if path == "" {
				path = "(document)"
			}
			fmt.Fprintf(g.stdout, "  %s %s %s: %s\n", p.Severity, p.Test, path, p.Message)
		}
	}
}
