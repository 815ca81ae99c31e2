package stix

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// seedObjects are the objects of the official examples and of the corpora,
// the starting points of the differential tests.
var seedObjects = sync.OnceValue(func() []map[string]any {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	reports, _ := filepath.Glob(filepath.Join(examplesDir, "threat-reports", "*.json"))
	valid, _ := filepath.Glob("testdata/valid/*.json")
	invalid, _ := filepath.Glob("testdata/invalid/*.json")
	var out []map[string]any
	for _, f := range slices.Concat(valid, files, reports, invalid) {
		data, err := readFileErr(f)
		if err != nil {
			continue
		}
		doc, err := decode(data, DefaultMaxDepth)
		if err != nil {
			continue
		}
		m, _ := doc.(map[string]any)
		items, ok := m["objects"].([]any)
		if !ok {
			items = []any{m}
		}
		for _, it := range items {
			if o, ok := it.(map[string]any); ok {
				out = append(out, o)
			}
		}
	}
	return out
})

// agree fails the test when the fast path is sure and the schema disagrees.
// It returns the fast verdict.
func agree(t testing.TB, v *Validator, obj map[string]any) verdict {
	t.Helper()
	typ, _ := obj["type"].(string)
	fv := fastVerdict(v.fast, typ, obj)
	sch, ok := v.schemas.byType[typ]
	if fv == unsure || !ok {
		return fv
	}
	err := sch.Validate(obj)
	if (fv == pass) != (err == nil) {
		js, _ := json.Marshal(obj)
		t.Fatalf("fast path says %v, schema says %v, for %s", fv == pass, err, js)
	}
	return fv
}

// probes are the values the table-driven differential test puts in every
// property.
var probes = []any{
	nil, "", "x", "abc", true, false, json.Number("0"), json.Number("-1"), json.Number("100"), json.Number("101"),
	json.Number("1.5"), json.Number("1e2"), json.Number("1000000000"), []any{}, []any{"x"}, []any{json.Number("1")},
	[]any{nil}, map[string]any{}, map[string]any{"abc": "x"},
	"2016-02-31T00:00:00Z", "2016-01-01T00:00:00Z", "2016-01-01T00:00:00.000Z", "2016-01-01T24:00:00Z",
	"2016-01-01T00:00:60.5Z", "2016-1-01T00:00:00Z", "2016-01-01T00:00:00.Z",
	"indicator--6f1a3c0e-2d4b-4e8f-9a1c-3b5d7e9f1a2c", "identity--8a5b1e2c-4f3d-4c6e-9a7b-1d2e3f4a5b6c",
	"software--8a5b1e2c-4f3d-4c6e-9a7b-1d2e3f4a5b6c", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
	"relationship--8a5b1e2c-4f3d-4c6e-9a7b-1d2e3f4a5b6c", "identity--8a5b1e2c-4f3d-6c6e-9a7b-1d2e3f4a5b6c",
	"identity--8a5b1e2c-4f3d-4c6e-7a7b-1d2e3f4a5b6c", "Identity--8a5b1e2c-4f3d-4c6e-9a7b-1d2e3f4a5b6c",
	"ab--8a5b1e2c-4f3d-4c6e-9a7b-1d2e3f4a5b6c", "a-b--8a5b1e2c-4f3d-4c6e-9a7b-1d2e3f4a5b6c",
	[]any{"identity--8a5b1e2c-4f3d-4c6e-9a7b-1d2e3f4a5b6c"}, []any{"software--8a5b1e2c-4f3d-4c6e-9a7b-1d2e3f4a5b6c"},
	[]any{map[string]any{"kill_chain_name": "k", "phase_name": "p"}}, []any{map[string]any{"kill_chain_name": "k"}},
	[]any{map[string]any{"source_name": "cve", "external_id": "CVE-2016-0001"}},
	[]any{map[string]any{"source_name": "cve", "external_id": "CVE-2016-01"}},
	[]any{map[string]any{"source_name": "capec", "external_id": "CAPEC-12"}},
	[]any{map[string]any{"source_name": "capec", "external_id": "CVE-2016-0001"}},
	[]any{map[string]any{"source_name": "x", "external_id": "CVE-2016-0001"}},
	[]any{map[string]any{"source_name": "x"}}, []any{map[string]any{"source_name": "x", "url": "u"}},
	[]any{map[string]any{"source_name": "x", "description": json.Number("1")}},
	[]any{map[string]any{"selectors": []any{"name", "a.[0].b"}, "marking_ref": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"}},
	[]any{map[string]any{"selectors": []any{"na"}, "marking_ref": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"}},
	[]any{map[string]any{"selectors": []any{"name.[x]"}, "marking_ref": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"}},
	map[string]any{"x-foo-ext": map[string]any{"abc": "x"}}, map[string]any{"x--foo-ext": map[string]any{"abc": "x"}},
	map[string]any{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": map[string]any{"extension_type": "property-extension", "tlp_2_0": "red"}},
	map[string]any{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": map[string]any{"extension_type": "other"}},
	map[string]any{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": map[string]any{"extension_type": "new-sdo", "x": nil}},
	map[string]any{"statement": "s"}, map[string]any{"tlp": "white"}, map[string]any{"tlp": "red"},
	"statement", "tlp", "statements", "notlp", "TLP:WHITE", "2017-01-20T00:00:00.000Z", "2.0", "2.1",
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "indicates", "Indicates", "agree",
}

// probeKeys are property names added to every object.
var probeKeys = []string{"x_custom", "ab", "xid", "x-custom", "abC", "description", "name", "is_family", "severity",
	"extensions", "objects", "object_refs", "definition", "definition_type", "foo_bin", "foo_hex", "hashes"}

// TestFastPathAgreesWithSchema sets the properties of one seed object per
// type, and a few new ones, to the probe values (every fifth probe per
// property, a different fifth for each property, to keep the test quick
// under -race) or deletes them, and holds the fast path's verdict to the
// schema's. FuzzFastPathAgreesWithSchema explores further.
func TestFastPathAgreesWithSchema(t *testing.T) {
	v := validator(t)
	var sure, total int
	seeds := richestSeedPerType(v)
	if len(seeds) != len(v.fast)+1 { // + marking-definition
		t.Errorf("seeds for %d types; the fast path models %d", len(seeds), len(v.fast)+1)
	}
	for _, obj := range seeds {
		for ki, k := range slices.Concat(sortedKeys(obj), probeKeys) {
			for pi, p := range append(probes, deleteProbe{}) {
				if pi%5 != ki%5 {
					continue
				}
				m := clone(obj).(map[string]any)
				if _, del := p.(deleteProbe); del {
					delete(m, k)
				} else {
					m[k] = clone(p)
				}
				total++
				if agree(t, v, m) != unsure {
					sure++
				}
			}
		}
	}
	t.Logf("%d of %d mutated objects decided by the fast path", sure, total)
	if total == 0 || sure*2 < total {
		t.Errorf("the fast path decided only %d of %d objects", sure, total)
	}
}

// richestSeedPerType picks, for each type the fast path models, the seed
// object with the most properties.
func richestSeedPerType(v *Validator) []map[string]any {
	best := map[string]map[string]any{}
	for _, obj := range seedObjects() {
		typ, _ := obj["type"].(string)
		if _, fast := v.fast[typ]; (fast || typ == "marking-definition") && len(obj) > len(best[typ]) {
			best[typ] = obj
		}
	}
	out := make([]map[string]any, 0, len(best))
	for _, typ := range sortedKeys(toAny(best)) {
		out = append(out, best[typ])
	}
	return out
}

func toAny(m map[string]map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestFastPathDecidesTheExamples: the fast path must pass every official
// example object of the types it models, or it would not be fast.
func TestFastPathDecidesTheExamples(t *testing.T) {
	v := validator(t)
	for _, f := range exampleFiles(t) {
		for _, obj := range bundleObjects(t, readFile(t, f)) {
			typ, _ := obj["type"].(string)
			if _, fast := v.fast[typ]; fast && agree(t, v, obj) != pass {
				t.Errorf("%s: the fast path did not pass %v", filepath.Base(f), obj["id"])
			}
		}
	}
}

type deleteProbe struct{}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clone deep-copies a decoded JSON value.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = clone(x)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = clone(x)
		}
		return a
	}
	return v
}

// FuzzFastPathAgreesWithSchema mutates a seed object at a path (tokens
// separated by "/"; a number picks the n-th key of an object or the n-th
// item of an array) and holds the fast path's verdict to the schema's.
// op: 0 sets the value (raw as JSON, or as a string when it is not JSON),
// 1 deletes the member, 2 adds the value under the last token as a new key.
func FuzzFastPathAgreesWithSchema(f *testing.F) {
	f.Add(uint16(0), "pattern", []byte(`"[x:y = 'z']"`), uint8(0))
	f.Add(uint16(1), "0", []byte(`null`), uint8(0))
	f.Add(uint16(2), "external_references/0/external_id", []byte(`"CVE-2016-0001"`), uint8(0))
	f.Add(uint16(3), "object_marking_refs", []byte(`[]`), uint8(0))
	f.Add(uint16(4), "x_new", []byte(`{"a": [1, 2]}`), uint8(2))
	f.Add(uint16(5), "name", []byte{}, uint8(1))
	f.Fuzz(func(t *testing.T, seed uint16, path string, raw []byte, op uint8) {
		v := validator(t)
		seeds := seedObjects()
		if len(seeds) == 0 {
			t.Skip("no seed objects")
		}
		obj := clone(seeds[int(seed)%len(seeds)]).(map[string]any)
		var val any = string(raw)
		if d, err := decode(raw, 8); err == nil {
			val = d
		}
		mutate(obj, strings.Split(path, "/"), op%3, val)
		agree(t, v, obj)
	})
}

// mutate applies one mutation to a decoded JSON object in place.
func mutate(obj map[string]any, path []string, op uint8, val any) {
	var cur any = obj
	for i, tok := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			key := tok
			if n, err := strconv.Atoi(tok); err == nil && len(c) > 0 && !(last && op == 2) {
				keys := sortedKeys(c)
				key = keys[((n%len(keys))+len(keys))%len(keys)]
			}
			if !last {
				cur = c[key]
				continue
			}
			if op == 1 {
				delete(c, key)
			} else {
				c[key] = val
			}
		case []any:
			n, err := strconv.Atoi(tok)
			if err != nil || len(c) == 0 {
				return
			}
			n = ((n % len(c)) + len(c)) % len(c)
			if !last {
				cur = c[n]
				continue
			}
			if op == 1 {
				c[n] = nil
			} else {
				c[n] = val
			}
		default:
			return
		}
	}
}
