package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevPrintsABannerThenOnlyWarnings: by default `tocsin dev` prints a
// short banner, the nodes' client URLs first, and logs only warnings and
// errors; a normal start and stop log no error, and none of the warnings
// nats-server gives while the nodes meet (the route dial errors of the
// first formation are not errors). --verbose logs everything, still with no
// error. A warning a loaded machine earns (a raft group falling behind) is
// allowed, and logged.
func TestDevPrintsABannerThenOnlyWarnings(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		data := filepath.Join(t.TempDir(), "dev")
		var (
			stdout, stderr *proc
			args           []string
		)
		for attempt := 1; ; attempt++ {
			args, _ = devArgs(t, data)
			args = slices.Delete(args, slices.Index(args, "--log-level"), slices.Index(args, "--log-level")+2)
			if verbose {
				args = append(args, "--verbose")
			}
			stdout, stderr = &proc{done: make(chan struct{})}, &proc{}
			stdout.cmd = exec.Command(tocsinBin, args...)
			stdout.cmd.Stdout, stdout.cmd.Stderr = stdout, stderr
			if err := stdout.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func(p *proc) { p.err = p.cmd.Wait(); close(p.done) }(stdout)
			err := stdout.wait("ready in", 90*time.Second)
			if err == nil {
				break
			}
			_ = stdout.cmd.Process.Kill()
			<-stdout.done
			if attempt == 3 || !strings.Contains(stderr.Output(), "address already in use") {
				t.Fatalf("%v\n%s%s", err, stdout.Output(), stderr.Output())
			}
			if err := os.RemoveAll(data); err != nil {
				t.Fatal(err)
			}
		}
		if err := stdout.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-stdout.done:
		case <-time.After(60 * time.Second):
			_ = stdout.cmd.Process.Kill()
			t.Fatal("tocsin dev did not stop 60 s after SIGTERM")
		}
		out, logs := lines(stdout.Output()), lines(stderr.Output())
		t.Logf("tocsin %s: %d lines on stdout, %d on stderr", strings.Join(args, " "), len(out), len(logs))
		if len(out) < 3 || !strings.HasPrefix(out[0], "node tocsin-1 ") || !strings.Contains(out[0], " nats://127.0.0.1:") ||
			!strings.Contains(out[2], " nats://127.0.0.1:") {
			t.Fatalf("stdout does not begin with the nodes' client URLs:\n%s", stdout.Output())
		}
		banner := stdout.Output()
		for _, want := range []string{"/console/", ".token", ".creds", "ready in", "Ctrl-C", "stopped"} {
			if !strings.Contains(banner, want) {
				t.Errorf("the banner does not say %q:\n%s", want, banner)
			}
		}
		if len(out) > 14 {
			t.Errorf("the banner and the stop are %d lines, want a short banner:\n%s", len(out), banner)
		}
		info := 0
		for _, l := range logs {
			switch {
			case strings.Contains(l, "\tERROR\t"):
				t.Errorf("a normal start and stop logged an error: %s", l)
			case strings.Contains(l, "\tWARN\t") && (strings.Contains(l, "route") || strings.Contains(l, "meta leader")):
				t.Errorf("a normal start and stop warned of the nodes meeting: %s", l)
			case strings.Contains(l, "\tWARN\t"):
				t.Logf("warned (a loaded machine?): %s", l)
			case strings.Contains(l, "\tINFO\t") || strings.Contains(l, "\tDEBUG\t"):
				info++
			case !verbose && l != "starting tocsin ...":
				t.Errorf("stderr has a line that is no log line: %s", l)
			}
		}
		switch {
		case !verbose && info > 0:
			t.Errorf("without --verbose, %d info lines on stderr, want warnings and errors only:\n%s", info, stderr.Output())
		case verbose && info < 50:
			t.Errorf("--verbose logged %d info lines, want everything", info)
		}
	}
}

// lines splits s into its non-empty lines.
func lines(s string) []string {
	return slices.DeleteFunc(strings.Split(s, "\n"), func(l string) bool { return strings.TrimSpace(l) == "" })
}
