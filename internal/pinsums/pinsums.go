// Package pinsums checks an embedded tree against the SHA256SUMS file that
// pins it, for the tests of the packages that embed pinned upstream files
// (stixschemas, csafschemas).
package pinsums

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// Check reads the sha256sum-format file sums and fails t unless fsys holds
// exactly the files that embedded maps a listed path to, each with its
// pinned content. embedded returns the path in fsys of a listed path ("./"
// already cut), or false for a listed file that is not embedded. Files named
// .keep (the placeholders that let a fresh clone compile) are ignored.
func Check(t testing.TB, fsys fs.FS, sums string, embedded func(listed string) (string, bool)) {
	t.Helper()
	f, err := os.Open(sums)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, path, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("%s line %q is not in sha256sum format", sums, sc.Text())
		}
		if p, ok := embedded(strings.TrimPrefix(path, "./")); ok {
			want[p] = sum
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ".keep" {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		switch w, ok := want[path]; {
		case !ok:
			t.Errorf("%s is embedded but not listed in %s", path, sums)
		case w != hex.EncodeToString(sum[:]):
			t.Errorf("%s does not match %s: run 'make schemas'", path, sums)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("embedded %d files, %s lists %d: run 'make schemas'", seen, sums, len(want))
	}
}
