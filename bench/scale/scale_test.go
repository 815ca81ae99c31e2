package scale

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// tocsinBin is the tocsin binary the tests run, built once by TestMain.
var tocsinBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tocsin-scale-bin-")
	if err != nil {
		panic(err)
	}
	tocsinBin = filepath.Join(dir, "tocsin")
	if out, err := exec.Command("go", "build", "-o", tocsinBin, "../../cmd/tocsin").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tocsin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestScaleMeasuresEveryFigure runs the benchmark at 20 members on three
// node processes: every figure is measured (not zero), the counts are
// those of 20 members, and the curves draw.
func TestScaleMeasuresEveryFigure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	r, err := Run(ctx, Options{Sizes: []int{20}, Binary: tocsinBin, DataDir: t.TempDir(), Idle: 2 * time.Second, Senders: 4,
		Progress: func(line string) { t.Log(line) }}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Points) != 1 {
		t.Fatalf("%d points, want 1", len(r.Points))
	}
	p := r.Points[0]
	if miss := p.Missing(); len(miss) > 0 {
		t.Fatalf("not measured: %v", miss)
	}
	// Each member reads its sector, inbox and rejections at least: the
	// liaison and 20 members have at least 21 consumers of their own.
	if p.Consumers < 21 {
		t.Errorf("%d consumers for 21 members", p.Consumers)
	}
	if p.MetaEntriesAdmission < 21 {
		t.Errorf("%d meta entries for 21 members' consumers", p.MetaEntriesAdmission)
	}
	if len(p.Pages) != 4 {
		t.Errorf("%d pages, want 4: %+v", len(p.Pages), p.Pages)
	}
	var svg bytes.Buffer
	if err := Plot(r, &svg, "svg"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(svg.String()), "<?xml") || !strings.Contains(svg.String(), "<svg") {
		t.Fatalf("the plot is not an SVG: %.200s", svg.String())
	}
}

// TestMissingNamesZeroFigures: a point with a figure left at zero names
// it, so that Run fails rather than plot it.
func TestMissingNamesZeroFigures(t *testing.T) {
	p := Point{Members: 20}
	miss := p.Missing()
	for _, want := range []string{"Consumers", "ReachKeys", "FailoverWrite", "Startup", "Pages"} {
		if !strings.Contains(strings.Join(miss, ","), want) {
			t.Errorf("Missing() = %v, want it to name %s", miss, want)
		}
	}
	for _, never := range []string{"Members", "MetaEntriesIdlePerMin"} {
		for _, m := range miss {
			if m == never {
				t.Errorf("Missing() names %s", never)
			}
		}
	}
}
