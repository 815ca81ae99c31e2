// Package worstcase makes the STIX bundles that cost the router the most to
// refuse: the most problems, the most problems per byte, the deepest
// nesting accepted, the largest pattern. Every one of them must end in a
// short, capped rejection (codes.MaxProblems), never in a retry. The
// router's, the command line's and the chaos run's tests send them, and
// the fuzz targets are seeded with them.
package worstcase

import (
	"fmt"
	"strings"
)

// bundleID and objectID are fixed, valid ids: the shapes are the same on
// every call, so a test and a fuzz seed see the same bytes.
const (
	bundleID = "bundle--5d0092c5-5f74-4287-9642-33f4c354e561"
	marking  = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb" // TLP 2.0 GREEN
)

// objectID is the id of the i-th object of type typ.
func objectID(typ string, i int) string {
	return fmt.Sprintf("%s--5d0092c5-5f74-4287-9642-%012x", typ, i)
}

// bundle wraps the objects' JSON texts into a bundle.
func bundle(objects []string) []byte {
	return []byte(`{"type":"bundle","id":"` + bundleID + `","objects":[` + strings.Join(objects, ",") + `]}`)
}

// SecondTimestamps is a bundle of n indicators whose created and modified
// times have second precision ("2026-01-01T00:00:00Z"), which the official
// schemas refuse (STIX 2.1 wants milliseconds): two problems an indicator
// of 250 bytes, each problem about 210 bytes. n = 3,500 is issue 16's
// poison alert (875 KB, 7,000 problems: a rejection listing them all is
// larger than the cluster's max payload).
func SecondTimestamps(n int) []byte {
	objs := make([]string, n)
	for i := range objs {
		objs[i] = fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z",`+
			`"pattern":"[ipv4-addr:value = '198.51.%d.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
			objectID("indicator", i), (i/256)%256, i%256)
	}
	return bundle(objs)
}

// DensestProblems is the bundle with the most problems per byte found: n
// objects that are the number 1 (one problem each for two bytes). The
// validator refuses more than 10,000 objects with a single problem.
func DensestProblems(n int) []byte {
	objs := make([]string, n)
	for i := range objs {
		objs[i] = "1"
	}
	return bundle(objs)
}

// MostProblems is the bundle with the most problems found within the
// validator's 10,000 objects: n indicators with a spec_version of the
// wrong type, three problems for 38 bytes (30,000 problems, 3.7 MB of
// them, from a 380 KB bundle).
func MostProblems(n int) []byte {
	objs := make([]string, n)
	for i := range objs {
		objs[i] = `{"type":"indicator","spec_version":2}`
	}
	return bundle(objs)
}

// LongestEcho is a bundle of one indicator whose id is size bytes long:
// the validator quotes an id in the object id and the message of each of
// its problems, four of them, so that 250 KB of id make a 2 MB rejection
// out of four problems (a cap on the number of problems alone does not
// bound a rejection's size).
func LongestEcho(size int) []byte {
	return bundle([]string{`{"type":"indicator","spec_version":"2.1","id":"` + strings.Repeat("x", size) + `"}`})
}

// DeepNesting is a bundle of n indicators, each carrying a custom property
// nested depth arrays deep and failing the schema (the validator accepts
// 32 levels, the bundle being the first and its objects the third, so 29
// is the deepest accepted).
func DeepNesting(n, depth int) []byte {
	objs := make([]string, n)
	for i := range objs {
		objs[i] = fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-01-01T00:00:00Z","x_deep":%s%s}`,
			objectID("indicator", i), strings.Repeat("[", depth), strings.Repeat("]", depth))
	}
	return bundle(objs)
}

// LargestPattern is a bundle of n indicators, each with a pattern of about
// size bytes, OR'ed comparisons that only fail to parse at the very end
// (the validator refuses a pattern longer than 256 KiB before parsing it).
func LargestPattern(n, size int) []byte {
	p := FailingPattern(size)
	objs := make([]string, n)
	for i := range objs {
		objs[i] = fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"%s","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",`+
			`"pattern":"%s","pattern_type":"stix","valid_from":"2026-01-01T00:00:00.000Z","object_marking_refs":["%s"]}`,
			objectID("indicator", i), p, marking)
	}
	return bundle(objs)
}

// FailingPattern is a pattern of about size bytes, OR'ed comparisons, that
// only fails to parse at its very end.
func FailingPattern(size int) string {
	var b strings.Builder
	for b.Len() < size-len("[domain-name:value = ") {
		fmt.Fprintf(&b, "[domain-name:value = 'a%d.example'] OR ", b.Len())
	}
	b.WriteString("[domain-name:value = ")
	return b.String()
}

// Shape is one worst case, named as the chaos run's bad-input classes are.
type Shape struct {
	Name   string
	Bundle []byte
}

// Shapes are the worst cases at the sizes a 1 MiB alert allows.
func Shapes() []Shape {
	return []Shape{
		{"poison-second-timestamps", SecondTimestamps(3500)},
		{"poison-densest-problems", DensestProblems(10000)},
		{"poison-most-problems", MostProblems(10000)},
		{"poison-longest-echo", LongestEcho(250 << 10)},
		{"poison-deep-nesting", DeepNesting(1000, 29)},
		{"poison-largest-pattern", LargestPattern(3, 255<<10)},
	}
}
