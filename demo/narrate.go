package demo

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// narrator prints the story as it is played: a heading per step, the
// commands as they run, and one line with the outcome and the time taken.
type narrator struct{ w io.Writer }

const indent = "        "

func (n narrator) heading(at, what string) {
	fmt.Fprintf(n.w, "\n%-6s  %s\n", at, what)
}

func (n narrator) command(c command) { fmt.Fprintf(n.w, "%s$ %s\n", indent, c) }

// aside is what a user does without tocsin (stop a process, lose a
// machine), shown as a shell comment.
func (n narrator) aside(s string) { fmt.Fprintf(n.w, "%s# %s\n", indent, s) }

func (n narrator) outcome(line string, took time.Duration) {
	fmt.Fprintf(n.w, "%s-> %s  [%s]\n", indent, line, span(took))
}

func (n narrator) failed(err error, took time.Duration) {
	fmt.Fprintf(n.w, "%sFAILED: %v  [%s]\n", indent, err, span(took))
}

func (n narrator) say(format string, v ...any) { fmt.Fprintf(n.w, format+"\n", v...) }

// span spells a duration for people: "41 ms", "2.3 s".
func span(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// count spells "1 organisation", "3 organisations".
func count(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// list spells names as "a, b and c", "none" for none.
func list(names []string) string {
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
