package pattern

import "testing"

// typical is a set of typical indicator patterns.
var typical = []string{
	"[ipv4-addr:value = '198.51.100.23']",
	"[file:hashes.'SHA-256' = '" + sha256Hex + "']",
	"[domain-name:value = 'update.example-c2.net']",
	"[url:value = 'https://update.example-c2.net/payload/stage2.bin']",
	"[ipv4-addr:value = '198.51.100.23'] FOLLOWEDBY [domain-name:value = 'update.example-c2.net'] WITHIN 300 SECONDS",
}

// BenchmarkParse parses the typical patterns and reports patterns per second.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range typical {
			if _, err := Parse(s); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(typical))/b.Elapsed().Seconds(), "patterns/s")
}

// BenchmarkString prints the canonical form of the typical patterns.
func BenchmarkString(b *testing.B) {
	ps := make([]*Pattern, len(typical))
	for i, s := range typical {
		p, err := Parse(s)
		if err != nil {
			b.Fatal(err)
		}
		ps[i] = p
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range ps {
			_ = p.String()
		}
	}
	b.ReportMetric(float64(b.N*len(typical))/b.Elapsed().Seconds(), "patterns/s")
}
