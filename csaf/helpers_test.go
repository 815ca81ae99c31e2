package csaf

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pinned is a path in the pinned CSAF tree that `make schemas` copies into
// csafschemas/csaf (from ../shared/csaf): "cisa-icsma", "csaf_2.0/...".
func pinned(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join("..", "csafschemas", "csaf", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run 'make schemas' (it copies ../shared/csaf)", p)
	}
	return p
}

// validateFile validates one file.
func validateFile(t testing.TB, path string) Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Validate(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// failedTest reports whether r has a problem of test.
func failedTest(r Report, test string) bool {
	for _, p := range r.Problems {
		if p.Test == test {
			return true
		}
	}
	return false
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
