package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// command is one tocsin command line as a user types it against the
// cluster of `make run`: credentials under .dev/, the story's files under
// examples/, the cluster and the admin keys by their defaults.
type command struct {
	as   string   // the member whose credentials it uses ("" for none)
	args []string // after "tocsin"
}

// tocsin is the command `tocsin ARGS` run as member as.
func tocsin(as string, args ...string) command { return command{as: as, args: args} }

// words is the command line as shown: --creds goes after the command words
// and positional arguments, before the first flag.
func (c command) words() []string {
	out := []string{"tocsin"}
	i := 0
	for i < len(c.args) && !strings.HasPrefix(c.args[i], "-") {
		i++
	}
	out = append(out, c.args[:i]...)
	if c.as != "" {
		out = append(out, "--creds", ".dev/creds/"+c.as+".creds")
	}
	return append(out, c.args[i:]...)
}

// String is the command line, quoted for a POSIX shell.
func (c command) String() string {
	ws := c.words()
	for i, w := range ws {
		ws[i] = shellQuote(w)
	}
	return strings.Join(ws, " ")
}

// shellQuote quotes w when a shell would split or expand it.
func shellQuote(w string) string {
	if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:,=@+-") == "" {
		return w
	}
	if !strings.ContainsAny(w, "\"$`\\!") {
		return `"` + w + `"`
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

// line is the command's first line of error output, for narration.
func (r result) line() string {
	s := strings.TrimSpace(r.stderr)
	if s == "" {
		s = strings.TrimSpace(r.stdout)
	}
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimPrefix(s, "tocsin: ")
}

// runner runs commands against the demo's cluster: the paths of the shown
// command mapped into the data directory, --server set, --json added.
type runner struct {
	cli     CLI
	data    string
	servers string
}

// args are the arguments c runs with.
func (r *runner) args(c command) []string {
	ws := c.words()[1:]
	for i, w := range ws {
		switch {
		case strings.HasPrefix(w, ".dev/"):
			ws[i] = filepath.Join(r.data, strings.TrimPrefix(w, ".dev/"))
		case strings.HasPrefix(w, "examples/"):
			ws[i] = filepath.Join(r.data, "files", strings.TrimPrefix(w, "examples/"))
		}
	}
	ws = append(ws, "--server", r.servers, "--json", "--timeout", "30s")
	if ws[0] == "members" {
		ws = append(ws, "--keys", filepath.Join(r.data, "auth"))
	}
	return ws
}

// run runs c and returns what it did.
func (r *runner) run(c command) result {
	var out, errOut bytes.Buffer
	code := r.cli(r.args(c), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// runJSON runs c, requires exit code want and decodes its JSON output
// into v (when v is not nil).
func (r *runner) runJSON(c command, want int, v any) (result, error) {
	res := r.run(c)
	if res.code != want {
		return res, fmt.Errorf("`%s` exited %d, want %d: %s", c, res.code, want, res.line())
	}
	if v != nil {
		if err := json.Unmarshal([]byte(res.stdout), v); err != nil {
			return res, fmt.Errorf("`%s` printed no JSON the demo can read: %w", c, err)
		}
	}
	return res, nil
}
