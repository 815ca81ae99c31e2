package stix

import (
	"path/filepath"
	"testing"
)

// benchObjects are the objects of the official examples (the threat reports
// and the small bundles): mostly indicators, relationships and malware.
func benchObjects(b *testing.B) []map[string]any {
	var objs []map[string]any
	for _, f := range exampleFiles(b) {
		if filepath.Base(f) != "interop-objectmarking-test.json" {
			objs = append(objs, bundleObjects(b, readFile(b, f))...)
		}
	}
	return objs
}

// BenchmarkValidateFast is the schema step as the validator runs it: the
// fast path, and the schema where the fast path is unsure.
func BenchmarkValidateFast(b *testing.B) {
	benchSchemaStep(b, func(v *Validator, typ string, obj map[string]any) error {
		return v.validateSchema(typ, v.schemas.byType[typ], obj)
	})
}

// BenchmarkValidateSchema validates the same objects with the official
// schemas only.
func BenchmarkValidateSchema(b *testing.B) {
	benchSchemaStep(b, func(v *Validator, typ string, obj map[string]any) error {
		return v.schemas.byType[typ].Validate(obj)
	})
}

func benchSchemaStep(b *testing.B, validate func(v *Validator, typ string, obj map[string]any) error) {
	v := validator(b)
	objs := benchObjects(b)
	b.ResetTimer()
	for b.Loop() {
		for _, obj := range objs {
			if err := validate(v, obj["type"].(string), obj); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportObjects(b, len(objs))
}

// BenchmarkValidateBundle is the whole of ValidateBundle on the largest
// official example (poisonivy.json, 155 objects).
func BenchmarkValidateBundle(b *testing.B) {
	v := validator(b)
	data := readFile(b, filepath.Join(examplesDir, "threat-reports", "poisonivy.json"))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		r, err := v.ValidateBundle(data)
		if err != nil || !r.Valid() {
			b.Fatal(err, r.Problems)
		}
	}
	reportObjects(b, 155)
}

func reportObjects(b *testing.B, perOp int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*perOp)/s, "objects/s")
		b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*perOp), "ns/object")
	}
}

// BenchmarkValidateAlertBundle is ValidateBundle on the scenario's alert
// (examples/st-mary-ransomware.json): what the router and every agent do
// for each alert.
func BenchmarkValidateAlertBundle(b *testing.B) {
	v := validator(b)
	data := readFile(b, filepath.Join("..", "..", "examples", "st-mary-ransomware.json"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := v.ValidateBundle(data)
		if err != nil || !r.Valid() {
			b.Fatal(err, r.Problems)
		}
	}
}
