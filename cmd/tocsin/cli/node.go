package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/server"
)

func init() { register(newNodeCmd) }

func newNodeCmd(g *globals) *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use:   "node --config FILE",
		Short: "Run one node of a multi-machine cluster",
		Long: `Run one node of a real cluster from a YAML config (name, listen addresses,
routes, store dir, sync interval, http). See deploy/ for a 3-machine example.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" {
				return usageErr("--config FILE is required (see deploy/node-1.yaml)")
			}
			opts, err := server.LoadNodeConfig(config)
			if err != nil {
				return &exitError{ExitUsage, err}
			}
			return runServer(cmd.Context(), g, opts, func(s *server.Server) {
				fmt.Fprintf(g.stdout, "node %s %s\n", opts.Node.Name, s.ClientURLs()[0])
				if u := s.HTTPURL(); u != "" {
					fmt.Fprintf(g.stdout, "http %s\n", u)
				}
			})
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "node config file (YAML)")
	return cmd
}
