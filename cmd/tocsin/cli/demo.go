package cli

import (
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/demo"
	"github.com/tocsin-project/tocsin/internal/days"
)

func init() { register(newDemoCmd) }

func newDemoCmd(g *globals) *cobra.Command {
	var (
		data, httpAddr string
		port           int
		stay           bool
		pace           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo [--data DIR]",
		Short: `Play "the night St. Mary's went down" end to end on a cluster of its own, checking every step`,
		Long: `Start a 3-node cluster in this process on a fresh data directory (a previous
demo's is wiped), run an agent for every demo member organisation (a JSONL
feed, a STIX folder and a webhook each) and play the scenario step by step:
the flash alert, its delivery, the duplicate, the advisory and its reach, the
mutual-aid request from offer to demobilisation, the situation board, the
sightings, and the faults on purpose (an agent offline and catching up, a node
going down, a malformed bundle, a TLP:RED note, a revoked member). Every alert
is marked exercise. Each step shows the tocsin command a user would type
against make run's cluster, checks its outcome in the cluster's own state and
says what each party now has. It exits 0 when the whole story went as told,
2 when a step's outcome did not. --json prints the summary as JSON on stdout
(the narration then goes to stderr).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := demoLogger(cmd, g, data)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			var out io.Writer = g.stdout
			if g.json {
				out = g.stderr
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			sum, err := demo.Run(ctx, demo.Options{DataDir: data, Port: port, HTTPAddr: httpAddr, CLI: Main, Out: out, Stay: stay, Pace: pace}, log)
			if g.json && sum != nil {
				if perr := g.printJSON(sum); perr != nil && err == nil {
					err = perr
				}
			}
			if err != nil && sum != nil {
				return rejectedErr(err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", ".demo", "data directory: new, empty or a previous demo's (wiped)")
	f.IntVar(&port, "port", broker.RandomPort, "first node's client port (the others use PORT+1, PORT+2); default: free ports")
	f.StringVar(&httpAddr, "http", "127.0.0.1:0", "console address; default: a free port (the URL is printed)")
	f.BoolVar(&stay, "stay", false, "keep the cluster running after the story, until Ctrl-C")
	f.Var(days.NewValue(&pace, 1500*time.Millisecond), "pace", "pause before each step, to follow the story in the console (0: none)")
	return cmd
}

// demoLogger logs to stderr when --log-level is given, else at info level
// to DATA/tocsin.log: the narration is the output, and the cluster's log
// would drown it. The file is opened at the first line, after the demo has
// made the data directory fresh.
func demoLogger(cmd *cobra.Command, g *globals, data string) (*zap.Logger, error) {
	if cmd.Flags().Changed("log-level") {
		return g.logger()
	}
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.EncodeLevel = zapcore.CapitalLevelEncoder
	file := &lazyFile{path: filepath.Join(data, "tocsin.log")}
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), file, zapcore.InfoLevel)), nil
}

// lazyFile is a log file opened at the first write.
type lazyFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func (l *lazyFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return 0, err
		}
		l.f = f
	}
	return l.f.Write(p)
}

func (l *lazyFile) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	return l.f.Sync()
}
