// Package cli is the tocsin command line: one cobra command per file.
//
// Conventions every client subcommand follows: --server URL (default
// $TOCSIN_SERVER, else the local dev cluster), --creds FILE (default
// $TOCSIN_CREDS), --json for machine-readable output, a one-line reason on
// failure, and the exit codes of exit.go.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/internal/days"
)

// DefaultServer is the local dev cluster started by `tocsin dev`.
const DefaultServer = "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"

// globals are the flags every command shares.
type globals struct {
	server   string
	creds    string
	tlsCA    string
	json     bool
	timeout  time.Duration
	logLevel string
	stdout   io.Writer
	stderr   io.Writer
}

// commands registers subcommands; each file adds its own in init.
var commands []func(g *globals) *cobra.Command

func register(f func(g *globals) *cobra.Command) { commands = append(commands, f) }

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "tocsin",
		Short:         "Tocsin: the healthcare sector's cyber early-warning and mutual-aid channel",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", envOr("TOCSIN_SERVER", DefaultServer), "cluster URL(s), comma-separated ($TOCSIN_SERVER)")
	pf.StringVar(&g.creds, "creds", os.Getenv("TOCSIN_CREDS"), "NATS credentials file ($TOCSIN_CREDS)")
	pf.StringVar(&g.tlsCA, "tls-ca", os.Getenv("TOCSIN_TLS_CA"), "CA certificate (PEM) to trust for the cluster's TLS ($TOCSIN_TLS_CA)")
	pf.BoolVar(&g.json, "json", false, "print machine-readable JSON")
	pf.Var(days.NewValue(&g.timeout, 10*time.Second), "timeout", "how long to wait for the cluster")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level for long-running commands: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	for _, f := range commands {
		root.AddCommand(f(g))
	}
	requireSubcommands(root)
	err := root.Execute()
	if err != nil {
		if isCobraUsage(err) {
			err = &exitError{ExitUsage, err}
		}
		fmt.Fprintf(stderr, "tocsin: %v\n", err)
	}
	return exitCode(err)
}

// requireSubcommands makes every group below root (a command with
// subcommands and nothing to run of its own) refuse a missing or misspelled
// subcommand with a usage error, instead of printing its help and exiting
// 0 as cobra does.
func requireSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		requireSubcommands(c)
		if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
			continue
		}
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q for %q; use one of: %s", args[0], cmd.CommandPath(), subcommandNames(cmd))
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error {
			return usageErr("%s needs a subcommand: %s (tocsin %s --help)", cmd.CommandPath(), subcommandNames(cmd), cmd.Name())
		}
	}
}

func subcommandNames(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
}

// isCobraUsage reports cobra's own argument errors (unknown command, wrong
// number of arguments), which are usage errors.
func isCobraUsage(err error) bool {
	var ee *exitError
	if errors.As(err, &ee) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// logger builds the zap logger for long-running commands: console output
// on stderr at the chosen level.
func (g *globals) logger() (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(g.logLevel)
	if err != nil {
		return nil, usageErr("--log-level %q: use debug, info, warn or error", g.logLevel)
	}
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.EncodeLevel = zapcore.CapitalLevelEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.AddSync(g.stderr), lvl)
	return zap.New(core), nil
}

// connect opens a NATS connection to --server with --creds.
func (g *globals) connect(ctx context.Context, name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name(name)}, extra...)
	if g.creds != "" {
		if _, err := os.Stat(g.creds); err != nil {
			return nil, usageErr("--creds %q: %v", g.creds, err)
		}
		opts = append(opts, nats.UserCredentials(g.creds))
		if member, err := client.MemberFromCreds(g.creds); err == nil {
			opts = append(opts, nats.CustomInboxPrefix(auth.InboxPrefix(member)))
		}
	}
	return g.dial(opts...)
}

// dial connects to --server with opts, --timeout and --tls-ca.
func (g *globals) dial(opts ...nats.Option) (*nats.Conn, error) {
	tlsOpts, err := g.natsTLS()
	if err != nil {
		return nil, err
	}
	opts = append(append(opts, nats.Timeout(g.timeout)), tlsOpts...)
	nc, err := nats.Connect(g.server, opts...)
	if err != nil {
		// Refused credentials are not an outage; no credentials at all is a
		// connection that cannot be made (exit 3, as before).
		if g.creds != "" {
			who := "these credentials"
			if member, merr := client.MemberFromCreds(g.creds); merr == nil {
				who = member
			}
			if err := client.ConnectError(err, g.server, who, opts...); errors.Is(err, client.ErrNotAccepted) {
				return nil, &exitError{ExitNotAccepted, err}
			}
		}
		hint := ""
		if strings.Contains(err.Error(), "x509") {
			hint = "; pass the CA that signed the cluster's certificates with --tls-ca (tocsin init: KEYS/tls/ca.pem; tocsin dev --tls: DATA/tls/ca.pem)"
		}
		return nil, &exitError{ExitUnreachable, fmt.Errorf("cannot connect to %s: %w%s", g.server, err, hint)}
	}
	return nc, nil
}

// natsTLS is the connection option that trusts --tls-ca, if given.
func (g *globals) natsTLS() ([]nats.Option, error) {
	if g.tlsCA == "" {
		return nil, nil
	}
	if _, err := os.Stat(g.tlsCA); err != nil {
		return nil, usageErr("--tls-ca %q: %v", g.tlsCA, err)
	}
	return []nats.Option{nats.RootCAs(g.tlsCA)}, nil
}

// printJSON writes v as indented JSON to stdout.
func (g *globals) printJSON(v any) error {
	enc := jsonEncoder(g.stdout)
	return enc.Encode(v)
}
