package main

import (
	"bufio"
	"fmt"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's tour, run as written against a real `tocsin dev`, so that it
// cannot go stale. The rules, which the README states in one sentence:
//
//   - Every ```sh block of the section "## A short tour" runs, in order, in
//     one bash session (as a user's second terminal) whose working directory
//     holds the dev cluster's data in .dev, the binary in bin and the
//     checkout's examples; $TOCSIN_SERVER points at the cluster.
//   - A command is a line that is not a comment, with the lines its trailing
//     backslashes continue. It must exit 0.
//   - Comment lines right under a command (no blank line between) show what
//     it prints: each must match a whole line of its output, in order, spaces
//     collapsed; "..." stands for anything. "exit code N" instead says the
//     command exits N. Other comments are prose.
//   - A word in capitals ending in _ID (ALERT_ID) is an id: its first
//     appearance in an expected line captures it, and commands after use
//     the captured value.
//   - A read (status, reach, situation, aid list|show, a grep of a file an
//     agent writes) whose output does not match yet is run again for a few
//     seconds: the node answering, or the agent, may be a moment behind the
//     write before it.
//   - A job the tour leaves in the background (an agent) ends with the
//     shell: the test kills the shell's process group.
func TestReadmeTour(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tour, err := parseTour(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(tour) < 10 {
		t.Fatalf("the tour has %d commands; did its heading or its ```sh blocks change?", len(tour))
	}
	examples, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{filepath.Join(work, "bin", "tocsin"): tocsinBin, filepath.Join(work, "examples"): examples} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	_, args, _ := startDev(t, filepath.Join(work, ".dev"), 90*time.Second)
	port, err := strconv.Atoi(args[slices.Index(args, "--port")+1])
	if err != nil {
		t.Fatal(err)
	}
	server := fmt.Sprintf("nats://127.0.0.1:%d,nats://127.0.0.1:%d,nats://127.0.0.1:%d", port, port+1, port+2)

	sh := startShell(t, work, server)
	ids := map[string]string{}
	for _, c := range tour {
		text, err := c.substitute(ids)
		if err != nil {
			t.Fatalf("README.md:%d: %v", c.line, err)
		}
		// A command that only reads is retried until what it reads has
		// arrived; any other must be right the first time.
		testwait.For(t, 10*time.Second, fmt.Sprintf("README.md:%d: %s", c.line, text), func() error {
			out, code, err := sh.run(text, 45*time.Second)
			if err != nil {
				t.Fatalf("README.md:%d: %s: %v\n%s", c.line, text, err, strings.Join(out, "\n"))
			}
			if err = c.check(out, code, ids); err != nil && !c.read() {
				t.Fatalf("README.md:%d: %s\n%v\noutput (exit code %d):\n%s", c.line, text, err, code, strings.Join(out, "\n"))
			} else if err != nil {
				return fmt.Errorf("%v\noutput (exit code %d):\n%s", err, code, strings.Join(out, "\n"))
			}
			return nil
		})
		t.Logf("README.md:%d ok: %s", c.line, text)
	}
}

// tourCommand is one command of the tour and what it must print.
type tourCommand struct {
	line int      // where it starts in README.md
	text string   // as written, continuation lines included
	want []string // expected output lines
	exit int      // expected exit code
}

var (
	placeholder = regexp.MustCompile(`\b[A-Z][A-Z0-9_]*_ID\b`)
	exitLine    = regexp.MustCompile(`^exit code (\d+)$`)
	readCommand = regexp.MustCompile(`^(tocsin (status|reach|situation|aid (list|show))|grep)\b`)
	spaces      = regexp.MustCompile(`\s+`)
)

// parseTour returns the commands of the ```sh blocks of the tour section.
func parseTour(readme string) ([]tourCommand, error) {
	lines := strings.Split(readme, "\n")
	var out []tourCommand
	in, inBlock := false, false
	var last *tourCommand // the command the next comment lines belong to
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "## "):
			in = l == "## A short tour"
			continue
		case !in:
			continue
		case strings.HasPrefix(l, "```"):
			inBlock = !inBlock && strings.TrimSpace(l) == "```sh"
			last = nil
			continue
		case !inBlock:
			continue
		}
		trimmed := strings.TrimSpace(l)
		switch {
		case trimmed == "":
			last = nil
		case strings.HasPrefix(trimmed, "#"):
			if last == nil {
				continue // prose
			}
			want := strings.TrimSpace(strings.TrimPrefix(trimmed, "#"))
			if m := exitLine.FindStringSubmatch(want); m != nil {
				last.exit, _ = strconv.Atoi(m[1])
				continue
			}
			last.want = append(last.want, want)
		default:
			c := tourCommand{line: i + 1, text: l}
			for strings.HasSuffix(strings.TrimRight(lines[i], " "), `\`) && i+1 < len(lines) {
				i++
				c.text += "\n" + lines[i]
			}
			out = append(out, c)
			last = &out[len(out)-1]
		}
	}
	if inBlock {
		return nil, fmt.Errorf("README.md: a ```sh block of the tour is not closed")
	}
	return out, nil
}

// substitute puts the captured ids into the command.
func (c tourCommand) substitute(ids map[string]string) (string, error) {
	var missing []string
	text := placeholder.ReplaceAllStringFunc(c.text, func(name string) string {
		v, ok := ids[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%s is used before a command's output line captures it", strings.Join(missing, ", "))
	}
	return text, nil
}

// read reports whether the command only reads, so may run again.
func (c tourCommand) read() bool { return readCommand.MatchString(c.text) }

// check matches the output and exit code; the ids captured are added to
// ids only when everything matched.
func (c tourCommand) check(out []string, code int, ids map[string]string) error {
	if code != c.exit {
		return fmt.Errorf("exit code %d, want %d", code, c.exit)
	}
	got := map[string]string{}
	next := 0
	for _, want := range c.want {
		re, names := outputPattern(want, ids)
		matched := false
		for ; next < len(out) && !matched; next++ {
			line := strings.TrimSpace(spaces.ReplaceAllString(out[next], " "))
			m := re.FindStringSubmatch(line)
			if m == nil || !consistent(names, m[1:], got) {
				continue
			}
			matched = true
		}
		if !matched {
			return fmt.Errorf("no line of the output (after the ones matched before it) matches %q", want)
		}
	}
	for k, v := range got {
		ids[k] = v
	}
	return nil
}

// consistent records the captured values of names; a name captured twice
// must have the same value.
func consistent(names, values []string, got map[string]string) bool {
	seen := map[string]string{}
	for i, n := range names {
		if v, ok := seen[n]; ok && v != values[i] {
			return false
		}
		seen[n] = values[i]
	}
	for n, v := range seen {
		got[n] = v
	}
	return true
}

// outputPattern compiles an expected line: "..." is anything, a known id
// is its value, an unknown one a capture group (names lists them in order).
func outputPattern(want string, ids map[string]string) (*regexp.Regexp, []string) {
	want = spaces.ReplaceAllString(want, " ")
	var b strings.Builder
	var names []string
	for i, part := range strings.Split(want, "...") {
		if i > 0 {
			b.WriteString(".*")
		}
		last := 0
		for _, loc := range placeholder.FindAllStringIndex(part, -1) {
			b.WriteString(regexp.QuoteMeta(part[last:loc[0]]))
			name := part[loc[0]:loc[1]]
			if v, ok := ids[name]; ok {
				b.WriteString(regexp.QuoteMeta(v))
			} else {
				b.WriteString(`([A-Za-z0-9_-]+)`)
				names = append(names, name)
			}
			last = loc[1]
		}
		b.WriteString(regexp.QuoteMeta(part[last:]))
	}
	return regexp.MustCompile("^" + b.String() + "$"), names
}

// shell is a bash session fed one command at a time.
type shell struct {
	in    io.WriteCloser
	lines chan string
}

// tourDone marks the end of a command's output, with its exit code.
const tourDone = "__readme_tour_done__"

func startShell(t *testing.T, dir, server string) *shell {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its background jobs are in its group
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOCSIN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TOCSIN_SERVER="+server)
	cmd.Stdout, cmd.Stderr = w, w
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s := &shell{in: in, lines: make(chan string, 4096)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		r.Close()
	})
	return s
}

// run runs text in the session and returns its output lines and exit code.
func (s *shell) run(text string, timeout time.Duration) ([]string, int, error) {
	if _, err := fmt.Fprintf(s.in, "{ %s\n} </dev/null 2>&1; printf '\\n%s %%d\\n' $?\n", text, tourDone); err != nil {
		return nil, 0, err
	}
	var out []string
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return out, 0, fmt.Errorf("the shell exited")
			}
			if code, found := strings.CutPrefix(l, tourDone+" "); found {
				n, err := strconv.Atoi(code)
				return out, n, err
			}
			if l != "" {
				out = append(out, l)
			}
		case <-deadline:
			return out, 0, fmt.Errorf("still running after %s", timeout)
		}
	}
}
