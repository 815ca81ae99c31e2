package cli

import (
	"fmt"
	"strings"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// warningResult is one problem a routed message was accepted with: for a
// CSAF advisory, a 6.1 test the router does not refuse on, or a 6.2 or 6.3
// test (docs/CSAF.md, "Routing").
type warningResult struct {
	Test    string `json:"test"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// addWarnings copies the outcome's warnings into res: the first ones the
// router kept (at most 100) and how many there were.
func (res *publishResult) addWarnings(o *tocsinv1.Outcome) {
	for _, w := range o.GetWarnings() {
		res.Warnings = append(res.Warnings, warningResult{Test: w.GetTest(), Path: w.GetPath(), Message: w.GetMessage()})
	}
	res.WarningCount = max(int(o.GetWarningCount()), len(res.Warnings))
}

// printWarnings prints how many warnings a routed message carries and the
// first shownProblems of them, one a line: test, path, message.
func printWarnings(g *globals, res publishResult) {
	if res.WarningCount == 0 {
		return
	}
	noun := "warnings"
	if res.WarningCount == 1 {
		noun = "warning"
	}
	fmt.Fprintf(g.stdout, "routed with %d %s (the recipients have the document as published):\n", res.WarningCount, noun)
	for _, w := range res.Warnings[:min(len(res.Warnings), shownProblems)] {
		fmt.Fprintf(g.stdout, "  %s\n", strings.Join(nonEmptyFields(w.Test, w.Path, w.Message), " "))
	}
	if more := res.WarningCount - min(len(res.Warnings), shownProblems); more > 0 {
		fmt.Fprintf(g.stdout, "  ... and %d more (--json prints the first %d; tocsin csaf validate FILE prints them all)\n", more, len(res.Warnings))
	}
}

// nonEmptyFields is fields without the empty ones; the message after a
// colon.
func nonEmptyFields(test, path, message string) []string {
	var out []string
	for _, s := range []string{test, path} {
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) > 0 {
		out[len(out)-1] += ":"
	}
	return append(out, message)
}
