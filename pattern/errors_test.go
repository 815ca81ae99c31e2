package pattern

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tocsin-project/tocsin/codes"
)

// TestErrorIs checks that each Error matches the sentinel of its code only,
// also when wrapped.
func TestErrorIs(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		isPattern bool
		isHash    bool
	}{
		{"syntax", "[file:name = ", true, false},
		{"hash", "[file:hashes.MD5 = 'abc']", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tt.in)
			}
			wrapped := fmt.Errorf("indicator 3: %w", err)
			for _, e := range []error{err, wrapped} {
				if got := errors.Is(e, ErrInvalidPattern); got != tt.isPattern {
					t.Errorf("errors.Is(%v, ErrInvalidPattern) = %v, want %v", e, got, tt.isPattern)
				}
				if got := errors.Is(e, ErrInvalidHash); got != tt.isHash {
					t.Errorf("errors.Is(%v, ErrInvalidHash) = %v, want %v", e, got, tt.isHash)
				}
				if errors.Is(e, errors.New("invalid pattern")) {
					t.Errorf("errors.Is(%v, another error) = true", e)
				}
			}
		})
	}
}

// TestErrorFormat checks the text of an Error.
func TestErrorFormat(t *testing.T) {
	_, err := Parse("[file:name = 'a' AND file:size = 1")
	want := "pattern: offset 34: expected ']' to close the observation expression opened at offset 0, found the end of the pattern"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

// TestCodesAreRejectionCodes checks that the codes are wire names of
// tocsinv1.RejectionCode, so callers can pass them on unchanged.
func TestCodesAreRejectionCodes(t *testing.T) {
	for _, c := range []string{CodeInvalidPattern, CodeInvalidHash} {
		if _, ok := codes.Parse(c); !ok {
			t.Errorf("%q is not a rejection code name", c)
		}
	}
}
