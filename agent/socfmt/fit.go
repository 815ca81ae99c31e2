package socfmt

import (
	"fmt"
	"sort"
	"strings"
)

// Truncated is the marker a shortened value ends with.
const Truncated = " [truncated]"

// Fit shortens the values vals point at until encode's output is at most
// limit bytes, and returns that output. It cuts the longest value first, at
// a character boundary, and ends every value it cut with Truncated, so a
// reader always sees that something is missing. It fails when the output
// is still too long with every value cut to its marker.
func Fit(limit int, encode func() ([]byte, error), vals ...*string) ([]byte, error) {
	for {
		out, err := encode()
		if err != nil || len(out) <= limit {
			return out, err
		}
		var v *string
		for _, p := range vals {
			if len(*p) > len(Truncated) && (v == nil || len(*p) > len(*v)) {
				v = p
			}
		}
		if v == nil {
			return nil, fmt.Errorf("%w: the event does not fit in %d bytes even with its long values cut", ErrFormat, limit)
		}
		// The most of it that fits, found by a binary search over its
		// character boundaries (escaping makes the output grow with the
		// value, but not byte for byte).
		base, _ := strings.CutSuffix(*v, Truncated)
		var cuts []int
		for i := range base {
			cuts = append(cuts, i)
		}
		n := sort.Search(len(cuts), func(i int) bool {
			*v = base[:cuts[i]] + Truncated
			out, err := encode()
			return err != nil || len(out) > limit
		})
		*v = base[:cuts[max(n-1, 0)]] + Truncated
	}
}
