package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pinnedCSAF is a file of the pinned CSAF tree that make schemas copies.
func pinnedCSAF(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "csafschemas", "csaf", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run 'make schemas'", p)
	}
	return p
}

func TestCSAFValidateExitCodes(t *testing.T) {
	good := pinnedCSAF(t, "cisa-icsma/icsma-23-331-01.json")
	bad := pinnedCSAF(t, "csaf_2.0/test/validator/data/mandatory/oasis_csaf_tc-csaf_2_0-2021-6-1-11-01.json")
	var out, errOut bytes.Buffer
	if code := Main([]string{"csaf", "validate", good}, &out, &errOut); code != ExitOK || !strings.Contains(out.String(), "icsma-23-331-01.json: valid, 6 warnings") ||
		!strings.Contains(out.String(), "warning 6.2.16 /product_tree/") {
		t.Fatalf("a valid advisory with warnings: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := Main([]string{"csaf", "validate", "--warnings=false", good}, &out, &errOut); code != ExitOK || strings.Contains(out.String(), "warning 6.2.16") {
		t.Fatalf("--warnings=false: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	code := Main([]string{"csaf", "validate", good, bad}, &out, &errOut)
	if code != ExitRejected {
		t.Fatalf("an invalid document: exit %d, want %d\n%s%s", code, ExitRejected, out.String(), errOut.String())
	}
	for _, want := range []string{"invalid, 1 errors", "error 6.1.11 /vulnerabilities/0/cwe/name", "Cross-site Scripting"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "1 of 2 documents are not valid") {
		t.Errorf("stderr = %q", errOut.String())
	}
	out.Reset()
	if code := Main([]string{"csaf", "validate", "--json", bad}, &out, &errOut); code != ExitRejected {
		t.Fatalf("--json: exit %d", code)
	}
	var got []csafVerdict
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 || got[0].Valid || got[0].Problems[0].Test != "6.1.11" || got[0].Problems[0].Path != "/vulnerabilities/0/cwe/name" {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	if code := Main([]string{"csaf", "validate", filepath.Join(t.TempDir(), "none.json")}, &out, &errOut); code != ExitUsage {
		t.Errorf("a missing file: exit %d, want %d", code, ExitUsage)
	}
}
