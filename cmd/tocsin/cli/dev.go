package cli

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/server"
)

func init() { register(newDevCmd) }

func newDevCmd(g *globals) *cobra.Command {
	var (
		data, httpAddr, sync string
		port, nodes, sites   int
		useTLS, verbose      bool
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole cluster (3 nodes) in this process on loopback, with the demo members",
		Long: `Run a whole Tocsin cluster inside this process: 3 nodes on 127.0.0.1,
client ports PORT..PORT+2, JetStream at R3, the demo members of the scenario
seeded. Stop it with Ctrl-C (or SIGTERM): it drains, then stops; started again
on the same --data it comes back with every message. With --tls, clients need
TLS and routes mutual TLS, with a local CA made in DATA/tls (clients: --tls-ca
DATA/tls/ca.pem).

It prints a short banner (the nodes' client URLs first, then the console, the
credentials and how to stop) and from then on only warnings and errors;
--verbose (or --log-level info) logs everything. To start again from nothing,
stop it and remove DATA.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			interval, err := parseSync(sync)
			if err != nil {
				return usageErr("--sync %v", err)
			}
			abs, err := filepath.Abs(data)
			if err != nil {
				return usageErr("--data %q: %v", data, err)
			}
			if !cmd.Flags().Changed("log-level") {
				g.logLevel = "warn"
				if verbose {
					g.logLevel = "info"
				}
			}
			opts := server.Options{
				Dev:      &server.DevOptions{DataDir: abs, Nodes: nodes, Port: port, SyncInterval: interval, TLS: useTLS},
				HTTPAddr: httpAddr,
			}
			var ds devSites
			defer ds.exit()
			if sites > 0 {
				opts.Dev.LeafPort = devLeafBase(port)
			}
			return runServer(cmd.Context(), g, opts, func(s *server.Server) {
				devBanner(g, s, abs, useTLS)
				ds.start(cmd.Context(), g, s, sites, port, abs, useTLS)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", ".dev", "data directory (node stores, credentials, keys)")
	f.StringVar(&httpAddr, "http", "127.0.0.1:8080", "HTTP address: the console, TAXII, metrics, health, readiness and status")
	f.IntVar(&port, "port", broker.DefaultClientPort, "first node's client port; the others use PORT+1, PORT+2")
	f.IntVar(&nodes, "nodes", 3, "number of nodes")
	f.StringVar(&sync, "sync", "always", `JetStream fsync: "always" or an interval such as 2m`)
	f.BoolVar(&useTLS, "tls", false, "require TLS of clients and mutual TLS on routes, with a local CA in DATA/tls")
	f.IntVar(&sites, "sites", 0, "also run N member sites (tocsin site) of demo members, leaf nodes of the cluster on ports PORT+10.. (docs/SITES.md)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log everything (info level), not only warnings and errors; --log-level wins")
	return cmd
}

// runServer starts a server, calls ready once the cluster is ready, and
// blocks until SIGINT/SIGTERM, then drains and stops.
func runServer(parent context.Context, g *globals, opts server.Options, ready func(*server.Server)) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	fmt.Fprintln(g.stderr, "starting tocsin ...") // stdout begins with what ready prints
	opts.OnReady = func(s *server.Server) {
		ready(s)
		fmt.Fprintf(g.stdout, "ready in %s; stop with Ctrl-C\n", time.Since(start).Round(time.Millisecond))
	}
	srv, err := server.New(ctx, opts, log)
	if err != nil {
		if errors.Is(err, broker.ErrInvalidOptions) || errors.Is(err, broker.ErrServerFatal) {
			return &exitError{ExitUsage, err}
		}
		return err
	}
	defer srv.Exit()
	err = srv.Main(ctx)
	fmt.Fprintln(g.stdout, "stopping: draining connections, then the nodes ...")
	srv.Exit()
	fmt.Fprintln(g.stdout, "stopped")
	if err != nil && (errors.Is(err, broker.ErrServerFatal)) {
		return &exitError{ExitUsage, err}
	}
	return err
}

func parseSync(s string) (time.Duration, error) { return server.ParseSyncInterval(s) }

// devBanner prints what a dev cluster's user needs, the nodes' client URLs
// first (a check reads them there): where the console is and how to sign
// in, the credentials, the data, and the logging in force.
func devBanner(g *globals, s *server.Server, data string, useTLS bool) {
	for _, n := range s.Cluster().Nodes() {
		fmt.Fprintf(g.stdout, "node %-10s %s\n", n.Name(), n.ClientURL())
	}
	creds := s.CredsDir()
	if u := s.HTTPURL(); u != "" {
		fmt.Fprintf(g.stdout, "console         %s/console/ (sign in as a member with the token in %s/<member>.token)\n", u, creds)
		fmt.Fprintf(g.stdout, "http            %s (TAXII, metrics, healthz, readyz, status)\n", u)
	}
	fmt.Fprintf(g.stdout, "credentials     %s/<member>.creds (the demo members; admin.creds for tocsin status)\n", creds)
	if useTLS {
		fmt.Fprintf(g.stdout, "tls             clients trust %s (--tls-ca or $TOCSIN_TLS_CA)\n", server.DevTLSCA(data))
	}
	fmt.Fprintf(g.stdout, "data            %s (to start again from nothing: stop, then remove it)\n", data)
	if g.logLevel == "warn" || g.logLevel == "error" {
		fmt.Fprintf(g.stdout, "logs            %s and above only; --verbose for everything\n", g.logLevel)
	}
}
