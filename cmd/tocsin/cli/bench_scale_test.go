package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/bench/scale"
)

// TestBenchScaleRefusesBadSizes: --members takes member counts only.
func TestBenchScaleRefusesBadSizes(t *testing.T) {
	for _, sizes := range []string{"1000,lots", "0", "-5"} {
		var out, errOut bytes.Buffer
		if code := Main([]string{"bench", "scale", "--members", sizes}, &out, &errOut); code != ExitUsage {
			t.Errorf("--members %s: exit %d, want %d (usage)\n%s", sizes, code, ExitUsage, errOut.String())
		}
	}
}

// TestBenchScalePlotDrawsEarlierResults: bench scale plot draws the
// points of several --json results together, in order of members, as an
// SVG or a PNG, and prints their table.
func TestBenchScalePlotDrawsEarlierResults(t *testing.T) {
	dir := t.TempDir()
	point := func(n int) scale.Point {
		return scale.Point{Members: n, Admission: time.Duration(n) * time.Millisecond, Consumers: 3*n + 42, RaftGroups: 66, RaftGroupsPerNode: 22,
			NodeRSS: int64(n) << 17, StoreBytes: int64(n) << 14, DirectoryBytes: int64(n) * 138, ReachKeys: 9, ReachWrites: uint64(n),
			Pages: []scale.Page{{Name: "console: the liaison's reach", TTFB: time.Millisecond, Bytes: 91 * n}}}
	}
	var files []string
	for i, pts := range [][]scale.Point{{point(3000)}, {point(100), point(1000)}} {
		data, _ := json.Marshal(scale.Result{Points: pts})
		f := filepath.Join(dir, string(rune('a'+i))+".json")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for _, name := range []string{"scale.svg", "scale.png"} {
		pic := filepath.Join(dir, name)
		var out, errOut bytes.Buffer
		if code := Main(append([]string{"bench", "scale", "plot", "--out", pic}, files...), &out, &errOut); code != 0 {
			t.Fatalf("bench scale plot: exit %d\n%s", code, errOut.String())
		}
		data, err := os.ReadFile(pic)
		if err != nil {
			t.Fatal(err)
		}
		if name == "scale.svg" && !bytes.Contains(data, []byte("<svg")) || name == "scale.png" && !bytes.HasPrefix(data, []byte("\x89PNG")) {
			t.Errorf("%s is not what its name says: %.40q", name, data)
		}
		first := strings.SplitN(out.String(), "\n", 2)[0]
		if f := strings.Fields(first); len(f) != 4 || f[1] != "100" || f[2] != "1000" || f[3] != "3000" {
			t.Errorf("the table's first line is %q, want the members 100 1000 3000 in order", first)
		}
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"bench", "scale", "plot", "--out", filepath.Join(dir, "x.svg"), filepath.Join(dir, "none.json")}, &out, &errOut); code != ExitUsage {
		t.Errorf("a missing result: exit %d, want %d", code, ExitUsage)
	}
}
