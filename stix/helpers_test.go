package stix

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// sharedValidator compiles the schemas once for all tests.
var sharedValidator = sync.OnceValues(func() (*Validator, error) { return New(Options{}) })

func validator(t testing.TB) *Validator {
	t.Helper()
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// examplesDir holds the official examples (vendored next to the repository).
const examplesDir = "../../shared/stix/cti-stix2-json-schemas/examples"

// exampleFiles returns the official example bundles, or skips without them.
func exampleFiles(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	reports, _ := filepath.Glob(filepath.Join(examplesDir, "threat-reports", "*.json"))
	files = append(files, reports...)
	if len(files) == 0 {
		t.Skipf("no official examples in %s", examplesDir)
	}
	return files
}

// readFile returns a file's content, failing the test on error.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// bundleObjects decodes a bundle (or a bare object) into its objects.
func bundleObjects(t testing.TB, data []byte) []map[string]any {
	t.Helper()
	doc, err := decode(data, DefaultMaxDepth)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := doc.(map[string]any)
	items, ok := m["objects"].([]any)
	if !ok {
		items = []any{m}
	}
	var out []map[string]any
	for _, it := range items {
		if o, ok := it.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

// wrap puts a bare object into a bundle.
func wrap(t testing.TB, data []byte) []byte {
	t.Helper()
	var obj any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--0b8c0a4e-7e42-4e0c-9a5c-2d3f4e5a6b7c", "objects": []any{obj}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// problemCodes lists the distinct codes of problems.
func problemCodes(ps []Problem) string {
	var out []string
	seen := map[string]bool{}
	for _, p := range ps {
		if !seen[p.Code] {
			seen[p.Code] = true
			out = append(out, p.Code)
		}
	}
	return strings.Join(out, ",")
}

// readFileErr is os.ReadFile, for code that has no testing.TB.
func readFileErr(path string) ([]byte, error) { return os.ReadFile(path) }

// jsonNumber is a json.Number, for comparisons.
func jsonNumber(s string) json.Number { return json.Number(s) }
