// Package days reads durations as Tocsin writes them everywhere (flags,
// config files, seeds): Go's syntax (90m, 12h, 1h30m) with days added, as a
// leading count of "d" (2d, 90d, 1d12h). A day is 24 hours.
package days

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Syntax says in a few words what Parse accepts, for error messages.
const Syntax = "a duration such as 90m, 12h, 2d or 1d12h"

// Parse reads s: an optional count of days ("2d") followed by an optional
// Go duration ("12h30m"); at least one of them, and no sign.
func Parse(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration; use %s", Syntax)
	}
	var d time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("duration %q: %q is not a count of days; use %s", s, s[:i], Syntax)
		}
		d, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, fmt.Errorf("duration %q: no sign allowed; use %s", s, Syntax)
		}
		more, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("duration %q: use %s", s, Syntax)
		}
		d += more
	}
	return d, nil
}

// Format writes d as Parse reads it, with whole days as "Nd": 48h is "2d",
// 36h is "1d12h0m0s".
func Format(d time.Duration) string {
	day := 24 * time.Hour
	if d >= day {
		n, rest := d/day, d%day
		if rest == 0 {
			return fmt.Sprintf("%dd", n)
		}
		return fmt.Sprintf("%dd%s", n, rest)
	}
	return d.String()
}

// Value is a flag value (pflag.Value) holding a duration in this syntax.
type Value struct{ d *time.Duration }

// NewValue returns a flag value that sets *d, starting at def.
func NewValue(d *time.Duration, def time.Duration) *Value {
	*d = def
	return &Value{d}
}

// Set implements pflag.Value.
func (v *Value) Set(s string) error {
	d, err := Parse(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// String implements pflag.Value.
func (v *Value) String() string {
	if v == nil || v.d == nil {
		return ""
	}
	return Format(*v.d)
}

// Type implements pflag.Value.
func (v *Value) Type() string { return "duration" }
