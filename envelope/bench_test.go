package envelope

import (
	"context"
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// reportRate adds the throughput in operations per second to b's results.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkSeal(b *testing.B) {
	s := testSigner(b, "st-mary", 1)
	alert := testAlert()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(tocsinv1.Kind_KIND_ALERT, alert); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

func BenchmarkVerify(b *testing.B) {
	w := newWorld(b)
	v := NewVerifier(w.reg, VerifyOptions{})
	data, err := Marshal(seal(b, w.mary))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		env, err := Decode(data, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(ctx, env); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}
