package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/internal/testworld"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// world is a testworld with the agent service on every node.
type world struct {
	*testworld.World
	t *testing.T
}

// member makes a registry record.
var member = testworld.Member

// newWorld starts the cluster with the demo cast plus extra members.
func newWorld(t *testing.T, extra ...*tocsinv1.Member) *world {
	t.Helper()
	cast, err := members.DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	return newWorldOf(t, append(cast, extra...))
}

// newWorldOf starts the cluster with the members of cast.
func newWorldOf(t *testing.T, cast []*tocsinv1.Member) *world {
	t.Helper()
	return &world{World: testworld.Start(t, cast, runService), t: t}
}

// runService runs the agent service on a node.
func runService(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, reg *members.Registry) error {
	s, err := NewService(ServiceDeps{Conn: nc, JS: js, Registry: reg}, ServiceOptions{}, zap.NewNop())
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// alert is a GREEN routine alert for the sectors, with its own indicator.
func alert(title string, sectors ...string) *tocsinv1.Alert {
	return &tocsinv1.Alert{Title: title, Lane: tocsinv1.Lane_LANE_ROUTINE, Sectors: sectors, Tlp: tocsinv1.TLP_TLP_GREEN,
		StixBundle: benchBundle(ids.V4()[:8]+".example", tlp.MarkingGreen), RecommendedAction: "block the domain", Contact: "soc@test.example"}
}

// agentOptions are test defaults: quick pulls.
func (w *world) agentOptions(member, state string, sinks ...Sink) Options {
	return Options{CredsFile: w.Creds[member], Servers: w.C.ClientURL(), StateDir: state, Sinks: sinks, FetchWait: 2 * time.Second,
		NATS: []nats.Option{nats.ReconnectWait(50 * time.Millisecond)}}
}

// start runs an agent until the test ends or the returned stop is called.
func (w *world) start(opts Options) (*Agent, func()) {
	w.t.Helper()
	return w.startLogged(opts, zaptest.NewLogger(w.t).Named(filepath.Base(opts.StateDir)))
}

// startLogged is start with the agent's logger.
func (w *world) startLogged(opts Options, log *zap.Logger) (*Agent, func()) {
	w.t.Helper()
	a, err := New(opts, log)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("agent %s: %v", a.Member(), err)
		}
	}
	w.t.Cleanup(stop)
	return a, stop
}

// jsonlRecords reads every record of a JSONL sink's files, in order, and
// checks that each line validates against docs/schemas/record.schema.json.
func jsonlRecords(t *testing.T, path string) []Record {
	t.Helper()
	files, _ := filepath.Glob(path + ".*")
	files = append(files, path)
	var out []Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, line := range bytes.SplitAfter(data, []byte{'\n'}) {
			// A line without its newline is still being written (the sink
			// appends a whole line, then fsyncs): a reader waits for it.
			if len(line) == 0 || line[len(line)-1] != '\n' {
				continue
			}
			checkRecordLine(t, line)
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, r)
		}
	}
	return out
}
