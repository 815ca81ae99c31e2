package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/cmd/tocsin-agent/agentcmd"
)

func init() { register(newAgentCmd) }

// newAgentCmd is `tocsin agent`, the command the agent-only binary
// tocsin-agent runs too (agentcmd).
func newAgentCmd(g *globals) *cobra.Command {
	cmd := agentcmd.Command("agent [--config agent.yaml]", agentcmd.Env{Server: &g.server, Creds: &g.creds, TLSCA: &g.tlsCA,
		Logger: g.logger, Stdout: g.stdout})
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		if ue := (*agentcmd.UsageError)(nil); errors.As(err, &ue) {
			return &exitError{ExitUsage, ue.Err}
		}
		return err
	}
	args := cmd.Args
	cmd.Args = func(cmd *cobra.Command, a []string) error {
		if err := args(cmd, a); err != nil {
			return &exitError{ExitUsage, err}
		}
		return nil
	}
	return cmd
}
