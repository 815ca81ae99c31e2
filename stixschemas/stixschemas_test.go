package stixschemas

import (
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/internal/pinsums"
)

// TestEmbeddedMatchesSums checks every embedded file against SHA256SUMS, so a
// binary can only embed the pinned schemas.
func TestEmbeddedMatchesSums(t *testing.T) {
	if !Available() {
		t.Fatal(ErrSchemasMissing)
	}
	pinsums.Check(t, FS(), "SHA256SUMS", func(listed string) (string, bool) {
		if rest, ok := strings.CutPrefix(listed, "schemas/"); ok {
			return rest, true
		}
		if listed != "LICENSE" {
			t.Errorf("SHA256SUMS lists %s, which is neither LICENSE nor under schemas/", listed)
		}
		return listed, listed == "LICENSE"
	})
}

func TestErrSchemasMissingSaysTheFix(t *testing.T) {
	for _, fix := range []string{"make schemas", "rebuild"} {
		if !strings.Contains(ErrSchemasMissing.Error(), fix) {
			t.Errorf("ErrSchemasMissing = %q; it must say %q", ErrSchemasMissing, fix)
		}
	}
}
