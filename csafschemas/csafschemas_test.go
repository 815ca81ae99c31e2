package csafschemas

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/internal/pinsums"
)

// TestEmbeddedMatchesSums checks every embedded file against SHA256SUMS, so
// a binary can only embed the pinned schemas, and that every pinned schema
// file is embedded.
func TestEmbeddedMatchesSums(t *testing.T) {
	if !Available() {
		t.Fatal(ErrSchemasMissing)
	}
	pinsums.Check(t, FS(), "SHA256SUMS", func(listed string) (string, bool) {
		rest, ok := strings.CutPrefix(listed, "csaf_2.0/")
		return rest, ok && (strings.HasPrefix(rest, "json_schema/") || strings.HasPrefix(rest, "referenced_schema/"))
	})
}

func TestRefsAreEmbedded(t *testing.T) {
	for _, refs := range []map[string]string{Refs, StrictRefs} {
		for url, p := range refs {
			if _, err := fs.Stat(FS(), p); err != nil {
				t.Errorf("$ref %s: %v", url, err)
			}
		}
	}
}

func TestErrSchemasMissingSaysTheFix(t *testing.T) {
	for _, fix := range []string{"make schemas", "rebuild"} {
		if !strings.Contains(ErrSchemasMissing.Error(), fix) {
			t.Errorf("ErrSchemasMissing = %q; it must say %q", ErrSchemasMissing, fix)
		}
	}
}
