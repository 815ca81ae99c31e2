package agentcmd

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultServer is the local dev cluster (`tocsin dev`), as tocsin's.
const DefaultServer = "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"

// Exit codes of the agent-only binary, those of tocsin's that an agent
// can end with.
const (
	ExitUsage       = 1 // bad flags or configuration
	ExitFailed      = 2 // the agent stopped on an error
	ExitUnreachable = 3 // cannot connect or authenticate
)

// Main runs the agent command alone as the binary name, with tocsin's
// --server, --creds, --tls-ca (and their environment defaults) and
// --log-level, and returns the exit code.
func Main(name string, args []string, stdout, stderr io.Writer) int {
	var server, creds, tlsCA, level string
	env := Env{Server: &server, Creds: &creds, TLSCA: &tlsCA, Stdout: stdout, Logger: func() (*zap.Logger, error) {
		lvl, err := zapcore.ParseLevel(level)
		if err != nil {
			return nil, &UsageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
		}
		cfg := zap.NewDevelopmentEncoderConfig()
		cfg.EncodeLevel = zapcore.CapitalLevelEncoder
		return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.AddSync(stderr), lvl)), nil
	}}
	cmd := Command(name+" [--config agent.yaml]", env)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetArgs(args)
	pf := cmd.PersistentFlags()
	pf.StringVar(&server, "server", envOr("TOCSIN_SERVER", DefaultServer), "cluster URL(s), comma-separated ($TOCSIN_SERVER)")
	pf.StringVar(&creds, "creds", os.Getenv("TOCSIN_CREDS"), "NATS credentials file ($TOCSIN_CREDS)")
	pf.StringVar(&tlsCA, "tls-ca", os.Getenv("TOCSIN_TLS_CA"), "CA certificate (PEM) to trust for the cluster's TLS ($TOCSIN_TLS_CA)")
	pf.StringVar(&level, "log-level", "info", "log level: debug, info, warn, error")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{err} })
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	var ue *UsageError
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAuthExpired):
		return ExitUnreachable
	}
	return ExitFailed
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
