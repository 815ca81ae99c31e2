package agent

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// TestStatusLinesOnceAndStoppedLast: with a status writer (the command's
// stdout) each status line is written there and not logged at info too
// (a terminal showed every line twice), and stopping ends on "stopped",
// not on the "disconnected; reconnecting" the closing connection caused.
func TestStatusLinesOnceAndStoppedLast(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	dir := t.TempDir()
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	opts := w.agentOptions("bridge", filepath.Join(dir, "state"), j)
	status := &syncBuffer{}
	opts.Status = status
	// The client runs its callbacks in order on one goroutine: once the
	// closed callback ran, the disconnect callback of the close did too.
	closed := make(chan struct{})
	opts.NATS = append(opts.NATS, nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	core, logs := observer.New(zapcore.InfoLevel)
	_, stop := w.startLogged(opts, zap.New(core))
	testwait.For(t, 60*time.Second, "the agent live", testwait.True(func() bool { return strings.Contains(status.String(), "live:") }))
	stop()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent's connection was not closed 10 s after it stopped")
	}
	lines := strings.Split(strings.TrimSpace(status.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "stopped:") {
		t.Errorf("the last status line is %q, want stopped; status:\n%s", last, status)
	}
	if strings.Contains(status.String(), "reconnecting") {
		t.Errorf("stopping reported a lost connection; status:\n%s", status)
	}
	for _, e := range logs.All() {
		if strings.Contains(status.String(), e.Message) {
			t.Errorf("status line %q also logged at %s", e.Message, e.Level)
		}
	}
}
