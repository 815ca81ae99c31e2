// Command tocsin is the single binary of Tocsin: cluster nodes, the member
// agent and every client command. Run "tocsin --help" for the commands.
package main

import (
	"os"

	"github.com/tocsin-project/tocsin/cmd/tocsin/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
