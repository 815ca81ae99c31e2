// Command tocsin-agent is the member agent alone: the same command as
// `tocsin agent` (every flag, the YAML config), in a binary that links no
// server code, for a member's machine. Run "tocsin-agent --help".
package main

import (
	"io"
	"os"

	"github.com/tocsin-project/tocsin/cmd/tocsin-agent/agentcmd"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return agentcmd.Main("tocsin-agent", args, stdout, stderr)
}
