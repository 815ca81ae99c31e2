package demo

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/tocsin-project/tocsin/broker"
)

// CLI runs one tocsin command line in this process (the command line's
// Main) and returns its exit code.
type CLI func(args []string, stdout, stderr io.Writer) int

// Options configures a demo run.
type Options struct {
	// DataDir holds the cluster, the agents and the story's files. It must
	// be new, empty, or a previous demo's, which is wiped. Required.
	DataDir string
	// Port is the first node's client port; the others use Port+1 and
	// Port+2. Default broker.RandomPort: free ports.
	Port int
	// HTTPAddr is where the console listens. Default "127.0.0.1:0", a free
	// port (the narration prints the URL).
	HTTPAddr string
	// CLI runs the story's commands. Required.
	CLI CLI
	// Out receives the narration and the summary table. Default io.Discard.
	Out io.Writer
	// StepTimeout bounds each step. Default 45s.
	StepTimeout time.Duration
	// Pace is a pause before each step, so that a person can follow the
	// story in the console. Default 0.
	Pace time.Duration
	// AfterStory, when set, is called once the story has been played,
	// while the cluster still runs, with the cluster's URLs; its error
	// fails the run. Default nil.
	AfterStory func(ctx context.Context, servers string) error
	// Stay keeps the cluster running after the story until ctx ends, to
	// look around in the console or replay commands. Default false.
	Stay bool
}

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.DataDir == "":
		return o, errors.New("demo: a data directory is required (--data DIR)")
	case o.CLI == nil:
		return o, errors.New("demo: Options.CLI is required: the story runs tocsin commands")
	}
	if o.Port == 0 {
		o.Port = broker.RandomPort
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Pace < 0 {
		return o, errors.New("demo: the pace cannot be negative")
	}
	if o.StepTimeout == 0 {
		o.StepTimeout = 45 * time.Second
	}
	return o, nil
}
