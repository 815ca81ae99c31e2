package codes

import (
	"strings"
	"unicode/utf8"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// The bounds of a Rejection made by NewRejection. A bundle can hold tens of
// thousands of problems and a problem can quote megabytes of its input;
// listing them all made rejections larger than the cluster's max payload
// (issue 16), which then could never be sent.
const (
	// MaxProblems is the most problems a Rejection carries: the first ones
	// found; ProblemCount says how many there were.
	MaxProblems = 100
	// MaxMessageBytes is the longest problem message kept, in bytes.
	MaxMessageBytes = 512
	// MaxFieldBytes is the longest object id, path, subject or id kept.
	MaxFieldBytes = 256
	// MaxRejectionBytes bounds a Rejection made by NewRejection once
	// marshalled: MaxProblems problems of the longest fields and their
	// protobuf framing, and the ids. Sealed in an envelope, or embedded in
	// the outcome that records it, it stays far under the 1 MiB max
	// payload.
	MaxRejectionBytes = MaxProblems*(MaxMessageBytes+2*MaxFieldBytes+16) + 4*MaxFieldBytes
)

// NewRejection is the Rejection of the message env (nil when it did not
// decode), received on subject and refused for cause: the first
// MaxProblems coded errors of cause (as Problems finds them), each field
// cut to its bound and made valid UTF-8 (a protobuf string must be), and
// how many problems there were in all.
func NewRejection(env *tocsinv1.Envelope, subject string, cause error) *tocsinv1.Rejection {
	rej := &tocsinv1.Rejection{RefId: cut(env.GetId(), MaxFieldBytes), RefKind: env.GetKind(), Subject: cut(subject, MaxFieldBytes)}
	n := 0
	each(cause, func(e error) {
		n++
		if len(rej.Problems) < MaxProblems {
			p := Problem(e)
			p.Message, p.ObjectId, p.Path = cut(p.Message, MaxMessageBytes), cut(p.ObjectId, MaxFieldBytes), cut(p.Path, MaxFieldBytes)
			rej.Problems = append(rej.Problems, p)
		}
	})
	rej.ProblemCount = uint32(n)
	return rej
}

// ProblemCount is how many problems rej found: its count, or the problems
// it lists when it has none (a sender older than the count).
func ProblemCount(rej *tocsinv1.Rejection) int {
	return max(int(rej.GetProblemCount()), len(rej.GetProblems()))
}

// Cut returns s as valid UTF-8, cut at a character boundary to at most max
// bytes with an ellipsis marking the cut, as NewRejection cuts a problem's
// fields (the router's warnings are cut the same way).
func Cut(s string, max int) string { return cut(s, max) }

// cut returns s as valid UTF-8, cut at a character boundary to at most max
// bytes, an ellipsis marking the cut. It reads no more than max bytes of s.
func cut(s string, max int) string {
	long := len(s) > max
	if long {
		s = s[:max]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if !long && len(s) <= max {
		return s
	}
	const ellipsis = "…"
	i := min(len(s), max-len(ellipsis))
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + ellipsis
}
