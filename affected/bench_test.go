package affected

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// benchWorld is CISA's 134 advisories and an inventory of 2,000 devices
// (drawn from the products the advisories name, at random versions) and
// 10,000 SBOM components.
func benchWorld(tb testing.TB) (*Matcher, [][]byte) {
	files, _ := filepath.Glob(filepath.Join(csafDir(tb), "cisa-icsma", "*.json"))
	var docs [][]byte
	var names [][2]string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, data)
		d, _ := decodeDocument(data)
		for _, c := range d.candidates() {
			names = append(names, [2]string{c.Vendor, c.Name})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	inv := &Inventory{}
	for i := range 2000 {
		n := names[rng.IntN(len(names))]
		inv.Rows = append(inv.Rows, Row{Vendor: n[0], Product: n[1], Version: fmt.Sprintf("%d.%d.%d", rng.IntN(12), rng.IntN(10), rng.IntN(30)),
			Location: fmt.Sprintf("ward %d", i%40), Source: fmt.Sprintf("devices.csv:%d", i+2)})
	}
	for i := range 10000 {
		name := fmt.Sprintf("lib%d", i%3000)
		inv.Rows = append(inv.Rows, Row{Vendor: fmt.Sprintf("supplier %d", i%500), Product: name, Version: fmt.Sprintf("1.%d", i%50),
			PURL: fmt.Sprintf("pkg:generic/%s@1.%d", name, i%50), Source: fmt.Sprintf("sbom.json#c%d", i)})
	}
	return New(inv), docs
}

// BenchmarkMatch: one advisory against 10,000 components and 2,000
// devices (goal: p99 under 20 ms), and a backlog of 100 advisories
// (goal: under 2 s).
func BenchmarkMatch(b *testing.B) {
	m, docs := benchWorld(b)
	var lat []time.Duration
	found := 0
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		fs, err := m.Match(docs[i%len(docs)])
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		found += len(fs)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100])/float64(time.Millisecond), "p99-ms")
	start := time.Now()
	for i := range 100 {
		if _, err := m.Match(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start))/float64(time.Millisecond), "backlog100-ms")
	b.ReportMetric(float64(found)/float64(len(lat)), "findings/advisory")
}

// TestTheBenchmarkInventoryFindsSomething keeps the benchmark honest: its
// inventory matches advisories.
func TestTheBenchmarkInventoryFindsSomething(t *testing.T) {
	m, docs := benchWorld(t)
	total := 0
	for _, d := range docs {
		fs, err := m.Match(d)
		if err != nil {
			t.Fatal(err)
		}
		total += len(fs)
	}
	if total == 0 {
		t.Fatal("2,000 devices drawn from the advisories' products matched nothing")
	}
	t.Logf("%d findings over 134 advisories", total)
}
