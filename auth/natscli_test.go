package auth_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// The stock nats CLI (github.com/nats-io/natscli, pinned in
// tools/natscli/go.mod) is built once per package run, on first use, into
// a directory removed when the run ends.
var natsCLI struct {
	dir  string
	once sync.Once
	path string
	skip string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tocsin-natscli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir for the nats CLI:", err)
		os.Exit(1)
	}
	natsCLI.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// natsBinary builds the pinned nats CLI (once) and returns its path. It
// skips the test only when the build failed for lack of network (the
// module is not in the module cache and cannot be downloaded).
func natsBinary(t *testing.T) string {
	t.Helper()
	natsCLI.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			natsCLI.err = fmt.Errorf("no go command on PATH: %w", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		path := filepath.Join(natsCLI.dir, "nats")
		cmd := exec.CommandContext(ctx, goBin, "-C", filepath.Join("..", "tools", "natscli"), "build", "-o", path, "github.com/nats-io/natscli/nats")
		cmd.Env = append(os.Environ(), "GOWORK=off")
		out, err := cmd.CombinedOutput()
		switch {
		case err == nil:
			natsCLI.path = path
		case offline(string(out)):
			natsCLI.skip = fmt.Sprintf("cannot build the nats CLI without network (natscli v0.5.1 is not in the module cache): %s", out)
		default:
			natsCLI.err = fmt.Errorf("build the nats CLI: %v\n%s", err, out)
		}
	})
	if natsCLI.skip != "" {
		t.Skip(natsCLI.skip)
	}
	if natsCLI.err != nil {
		t.Fatal(natsCLI.err)
	}
	return natsCLI.path
}

func offline(out string) bool {
	for _, s := range []string{"dial tcp", "no such host", "network is unreachable", "connection refused", "i/o timeout", "TLS handshake timeout"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// cliUser runs the nats CLI as one member: its .creds file, its inbox
// prefix, no saved context.
type cliUser struct {
	bin, url, creds, inbox, home string
}

func (ac *authCluster) cliUser(t *testing.T, member string, node int) *cliUser {
	t.Helper()
	dir := t.TempDir()
	creds := filepath.Join(dir, member+".creds")
	if err := os.WriteFile(creds, ac.creds[member], 0o600); err != nil {
		t.Fatal(err)
	}
	return &cliUser{bin: natsBinary(t), url: ac.c.Node(node).ClientURL(), creds: creds, inbox: auth.InboxPrefix(member), home: dir}
}

func (u *cliUser) command(ctx context.Context, args ...string) *exec.Cmd {
	base := []string{"--no-context", "--server", u.url, "--creds", u.creds, "--inbox-prefix", u.inbox, "--timeout", "3s"}
	cmd := exec.CommandContext(ctx, u.bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+u.home, "XDG_CONFIG_HOME="+u.home, "NATS_CONTEXT=")
	return cmd
}

// expectViolation runs args until the CLI prints the server's permissions
// violation naming subject, then stops it; it fails if the CLI ends, or 10s
// pass, without one.
func (u *cliUser) expectViolation(t *testing.T, subject string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := u.command(ctx, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := `to "` + subject + `"`
	var lines []string
	scan := bufio.NewScanner(out)
	for scan.Scan() {
		line := scan.Text()
		lines = append(lines, line)
		if strings.Contains(line, "Permissions Violation") && strings.Contains(line, want) {
			cancel()
			cmd.Wait() // killed: its exit status says nothing
			return
		}
	}
	werr := cmd.Wait()
	t.Fatalf("nats %s: no permissions violation for %q (%v); output:\n%s", strings.Join(args, " "), subject, werr, strings.Join(lines, "\n"))
}

// run runs args to the end and returns the output, failing on an error
// exit or a permissions violation.
func (u *cliUser) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx := testContext(t, 20*time.Second)
	out, err := u.command(ctx, args...).CombinedOutput()
	if err != nil || strings.Contains(string(out), "Violation") {
		t.Fatalf("nats %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestStockNatsCLIIsRefusedTheForbiddenRows connects the stock nats CLI with
// a member's .creds file and tries every forbidden row: the server refuses
// each, while what the member needs works from the CLI too.
func TestStockNatsCLIIsRefusedTheForbiddenRows(t *testing.T) {
	ac := startAuthCluster(t)
	const actor = "st-mary"
	u := ac.cliUser(t, actor, 1)
	for _, row := range forbiddenRows() {
		if slices.Contains(row.allowed, actor) {
			continue
		}
		t.Run(row.name, func(t *testing.T) {
			subject, body := ac.expand(actor, row.subject), ac.expand(actor, row.body)
			switch row.kind {
			case "pub":
				u.expectViolation(t, subject, "pub", subject, "x", "--count", "2", "--sleep", "500ms")
			case "sub":
				u.expectViolation(t, subject, "sub", subject, "--count", "1")
			case "qsub":
				u.expectViolation(t, subject, "sub", subject, "--queue", "q", "--count", "1")
			case "req":
				u.expectViolation(t, subject, "req", subject, body)
			}
		})
	}
	// The CLI's own JetStream commands meet the same refusals.
	victimConsumer := auth.SectorConsumer(victim, victimSector)
	for _, c := range []struct {
		subject string
		args    []string
	}{
		{"$JS.API.STREAM.INFO.SECTORS", []string{"stream", "info", "SECTORS"}},
		// purge looks the stream up first, and is refused there.
		{"$JS.API.STREAM.INFO.SECTORS", []string{"stream", "purge", "SECTORS", "--force"}},
		{"$JS.API.STREAM.DELETE.SECTORS", []string{"stream", "rm", "SECTORS", "--force"}},
		{"$JS.API.CONSUMER.INFO.SECTORS." + victimConsumer, []string{"consumer", "info", "SECTORS", victimConsumer}},
		{"$JS.API.CONSUMER.INFO.SECTORS." + victimConsumer, []string{"consumer", "next", "SECTORS", victimConsumer}},
		{"$JS.API.STREAM.INFO.KV_MEMBERS", []string{"kv", "get", "MEMBERS", victim}},
		{"$JS.API.INFO", []string{"account", "info"}},
	} {
		t.Run("nats "+strings.Join(c.args, " "), func(t *testing.T) {
			u.expectViolation(t, c.subject, c.args...)
		})
	}
	t.Run("allowed: publish, read its sector, read its router outcome", func(t *testing.T) {
		ctx := testContext(t, 30*time.Second)
		u.run(t, "pub", "tocsin.ingest.alert."+actor, "from the cli")
		ingest, err := ac.svcJS.Stream(ctx, "INGEST")
		if err != nil {
			t.Fatal(err)
		}
		testwait.Until(ctx, t, "the cli's publish stored in INGEST", func() error {
			m, err := ingest.GetLastMsgForSubject(ctx, "tocsin.ingest.alert."+actor)
			if err == nil && string(m.Data) != "from the cli" {
				err = fmt.Errorf("last message %q", m.Data)
			}
			return err
		})
		if _, err := ac.svcJS.Publish(ctx, "tocsin.sector.patient-care.routine", []byte("sector news")); err != nil {
			t.Fatal(err)
		}
		if out := u.run(t, "consumer", "next", "SECTORS", auth.SectorConsumer(actor, "patient-care"), "--count", "1"); !strings.Contains(out, "sector news") {
			t.Fatalf("consumer next: %s", out)
		}
		routed, err := ac.svcJS.KeyValue(ctx, "ROUTED")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := routed.Put(ctx, actor+".cli", []byte("routed for the cli")); err != nil {
			t.Fatal(err)
		}
		testwait.Until(ctx, t, "direct get of its router outcome from the cli", func() error {
			if out := u.run(t, "req", auth.RoutedGetSubject(actor, "cli"), ""); !strings.Contains(out, "routed for the cli") {
				return fmt.Errorf("the cli printed %q", out)
			}
			return nil
		})
	})
}
