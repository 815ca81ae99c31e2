package stixschemas

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// TestEmbeddedMatchesSums checks every embedded file against SHA256SUMS, so a
// binary can only embed the pinned schemas.
func TestEmbeddedMatchesSums(t *testing.T) {
	if !Available() {
		t.Fatal(ErrSchemasMissing)
	}
	f, err := os.Open("SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, path, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not in sha256sum format", sc.Text())
		}
		path = strings.TrimPrefix(path, "./")
		if rest, ok := strings.CutPrefix(path, "schemas/"); ok {
			want[rest] = sum
		} else if path == "LICENSE" {
			want["LICENSE"] = sum
		} else {
			t.Errorf("SHA256SUMS lists %s, which is neither LICENSE nor under schemas/", path)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = fs.WalkDir(FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == ".keep" {
			return err
		}
		data, err := fs.ReadFile(FS(), path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		switch w, ok := want[path]; {
		case !ok:
			t.Errorf("%s is embedded but not listed in SHA256SUMS", path)
		case w != hex.EncodeToString(sum[:]):
			t.Errorf("%s does not match SHA256SUMS: run 'make schemas'", path)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("embedded %d files, SHA256SUMS lists %d: run 'make schemas'", seen, len(want))
	}
}

func TestErrSchemasMissingSaysTheFix(t *testing.T) {
	for _, fix := range []string{"make schemas", "rebuild"} {
		if !strings.Contains(ErrSchemasMissing.Error(), fix) {
			t.Errorf("ErrSchemasMissing = %q; it must say %q", ErrSchemasMissing, fix)
		}
	}
}
