package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// helperEnv, when set, makes the test binary run one agent (configured by
// the JSON helperConfig in it) instead of the tests: the agent the tests
// kill with SIGKILL runs in its own process.
const helperEnv = "TOCSIN_AGENT_TEST_HELPER"

type helperConfig struct {
	Creds, Servers, State, JSONL, STIXDir string
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(runHelper(cfg))
	}
	os.Exit(m.Run())
}

func runHelper(cfg string) int {
	var c helperConfig
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	j, err := OpenJSONL(JSONLOptions{Path: c.JSONL, MaxBytes: 128 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := OpenSTIXDir(c.STIXDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log, _ := zap.NewDevelopment()
	a, err := New(Options{CredsFile: c.Creds, Servers: c.Servers, StateDir: c.State, Sinks: []Sink{j, s}, Batch: 64,
		FetchWait: 2 * time.Second, Status: os.Stdout}, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startHelper runs the agent in a child process, its output in logPath.
func startHelper(t *testing.T, c helperConfig, logPath string) *exec.Cmd {
	t.Helper()
	cfg, _ := json.Marshal(c)
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(cfg))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); out.Close() })
	return cmd
}

// TestKilledWhileWriting kills the agent process with SIGKILL while it
// writes a stream of alerts, three times, and restarts it: in the end the
// JSONL file and the STIX folder hold every alert, none twice.
func TestKilledWhileWriting(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	c := helperConfig{Creds: w.Creds["valley-general"], Servers: w.C.ClientURL(), State: filepath.Join(dir, "state"),
		JSONL: filepath.Join(dir, "siem", "alerts.jsonl"), STIXDir: filepath.Join(dir, "bundles")}
	logPath := filepath.Join(dir, "agent.log")
	defer func() {
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("agent output:\n%s", data)
		}
	}()
	count := func() int { return len(jsonlRecords(t, c.JSONL)) }
	cmd := startHelper(t, c, logPath)
	const total = 1500
	var envs []*tocsinv1.Envelope
	kills := 0
	for chunk := range 3 {
		var ps []proto.Message
		for range total / 3 {
			ps = append(ps, alert(fmt.Sprintf("chunk %d", chunk), "patient-care"))
		}
		envs = append(envs, w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, ps...)...)
		// Kill as soon as the file grows past the middle of this chunk's
		// share: the agent is then writing, syncing or acknowledging.
		mark := chunk*total/3 + total/6
		testwait.For(t, 120*time.Second, fmt.Sprintf("%d records before kill %d", mark, chunk+1), testwait.True(func() bool { return count() > mark }))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		kills++
		t.Logf("killed at %d records", count())
		cmd = startHelper(t, c, logPath)
	}
	w.Routed("st-mary", envs)
	defer func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if cons, err := w.JS.Consumer(ctx, "SECTORS", "valley-general-sectors"); err == nil {
				info := cons.CachedInfo()
				t.Logf("consumer: pending %d, ack pending %d, redelivered %d, delivered %+v, ack floor %+v", info.NumPending, info.NumAckPending,
					info.NumRedelivered, info.Delivered, info.AckFloor)
			}
			seen := map[string]bool{}
			for _, r := range jsonlRecords(t, c.JSONL) {
				seen[r.ID] = true
			}
			missing := 0
			for i, e := range envs {
				if !seen[e.GetId()] {
					if missing < 10 {
						t.Logf("missing #%d %s", i, e.GetId())
					}
					missing++
				}
			}
			t.Logf("%d missing", missing)
		}
	}()
	// An agent killed between its sinks leaves an alert in the JSONL file
	// and not yet in the STIX folder; its message comes back (after the
	// consumer's 10 s ack wait when the dead process had pulled it) and
	// the folder gets it then. Wait for both sinks.
	bundleCount := func() int { b, _ := filepath.Glob(filepath.Join(c.STIXDir, "*.json")); return len(b) }
	testwait.For(t, 120*time.Second, "every alert in the JSONL file and the STIX folder", testwait.True(func() bool { return count() >= total && bundleCount() >= total }))
	time.Sleep(time.Second) // a duplicate would show up now
	seen := map[string]int{}
	for _, r := range jsonlRecords(t, c.JSONL) {
		seen[r.ID]++
	}
	for _, e := range envs {
		if n := seen[e.GetId()]; n != 1 {
			t.Errorf("alert %s is in the JSONL file %d times", e.GetId(), n)
		}
	}
	if len(seen) != total {
		t.Errorf("%d alerts in the JSONL file, want %d", len(seen), total)
	}
	bundles, _ := filepath.Glob(filepath.Join(c.STIXDir, "*.json"))
	if len(bundles) != total {
		t.Errorf("%d bundles in the STIX folder, want %d", len(bundles), total)
	}
	for _, e := range envs {
		if _, err := os.Stat(filepath.Join(c.STIXDir, e.GetId()+".json")); err != nil {
			t.Errorf("bundle of %s: %v", e.GetId(), err)
		}
	}
	if kills != 3 {
		t.Fatalf("killed %d times", kills)
	}
}
