package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// runBench runs one in-process benchmark for `tocsin bench fanout` and
// `tocsin bench page`: a temporary data directory (removed after), progress
// lines with the time on stderr, an hour's bound, "done in" at the end, and
// the result as JSON with --json or through print.
func runBench[R any](g *globals, cmd *cobra.Command, run func(ctx context.Context, dir string, progress func(string)) (R, error), print func(R) error) (R, error) {
	var zero R
	dir, err := os.MkdirTemp("", "tocsin-bench-")
	if err != nil {
		return zero, err
	}
	defer os.RemoveAll(dir)
	progress := func(line string) { fmt.Fprintf(g.stderr, "%s %s\n", time.Now().Format(time.TimeOnly), line) }
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Hour)
	defer cancel()
	start := time.Now()
	r, err := run(ctx, dir, progress)
	if err != nil {
		return zero, err
	}
	fmt.Fprintf(g.stderr, "done in %s\n", time.Since(start).Round(time.Millisecond))
	if g.json {
		return r, g.printJSON(r)
	}
	return r, print(r)
}
