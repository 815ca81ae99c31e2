package cli

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/site"
)

func init() { register(newSiteCmd) }

func newSiteCmd(g *globals) *cobra.Command {
	var (
		hub    []string
		data   string
		listen string
		domain string
		proxy  string
	)
	cmd := &cobra.Command{
		Use:   "site --hub URL --creds SITE.creds --data DIR [--listen 127.0.0.1:4222]",
		Short: "Run a member site: a local leaf node that keeps working through a WAN cut",
		Long: `Run the member's site (docs/SITES.md): an embedded nats-server at the
member's premises, a leaf node of the hub in the member's account with a
JetStream domain of its own (site-<member>). It keeps copies of what the
member receives (its sectors, inbox, rejections) and an outbox of what the
member sends, forwarded to the hub once it is reachable, each message once.
Point the member's agent and CLI at --listen instead of the hub.

--hub takes the cluster's client URL (nats://HOST:4222, the leaf port 7422
of the same host is used) or leaf URLs (nats-leaf://HOST:7422). --creds are
the site's credentials (tocsin members site-creds); --tls-ca the CA of the
hub's certificate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(hub) == 0 || g.creds == "" || data == "" {
				return usageErr("--hub URL, --creds SITE.creds and --data DIR are required")
			}
			log, err := g.logger()
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			sctx, cancel := context.WithTimeout(ctx, g.timeout)
			defer cancel()
			s, err := site.New(sctx, site.Options{Hub: hub, Creds: g.creds, CA: g.tlsCA, DataDir: data, Listen: listen, HubDomain: domain, Proxy: proxy, Log: log})
			if err != nil {
				if errors.Is(err, site.ErrInvalidOptions) || errors.Is(err, site.ErrOutboxMismatch) {
					return &exitError{ExitUsage, err}
				}
				return err
			}
			defer s.Exit()
			fmt.Fprintf(g.stdout, "site %s of %s %s\n", s.Name(), s.Member(), s.ClientURL())
			fmt.Fprintln(g.stdout, "ready; stop with Ctrl-C")
			go func() { <-ctx.Done(); s.Exit() }()
			s.Main()
			fmt.Fprintln(g.stdout, "stopped")
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&hub, "hub", nil, "the hub's client URL or leaf URLs (comma-separated)")
	cmd.Flags().StringVar(&data, "data", "", "directory of the site's streams and name (created if missing)")
	cmd.Flags().StringVar(&listen, "listen", site.DefaultListen, "where the member's agent and CLI connect")
	cmd.Flags().StringVar(&domain, "hub-domain", "", "the hub's JetStream domain (default tocsin)")
	cmd.Flags().StringVar(&proxy, "proxy", "", "an HTTP proxy the leaf link goes through with CONNECT (http://[user:pass@]HOST:PORT)")
	return cmd
}
