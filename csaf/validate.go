package csaf

import (
	"bytes"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tocsin-project/tocsin/csafschemas"
)

// Severity says what a problem means for the document.
type Severity string

const (
	// Error: the document is not a valid CSAF 2.0 document (the schema or
	// a mandatory test of section 6.1 failed).
	Error Severity = "error"
	// Warning: an optional or informative test failed; the document is
	// still valid.
	Warning Severity = "warning"
)

// TestSchema is the Test of a problem the CSAF JSON schema found.
const TestSchema = "schema"

// Problem is one thing wrong with a document.
type Problem struct {
	// Test is the test that found it: "schema" or the section number of
	// the standard's test ("6.1.1", "6.1.27.9").
	Test string `json:"test"`
	// Path is a JSON pointer (RFC 6901) to the value at fault, "" for the
	// whole document.
	Path string `json:"path"`
	// Message says what is wrong and what to correct.
	Message string `json:"message"`
	// Severity is Error for the schema and section 6.1, Warning for 6.2
	// and 6.3.
	Severity Severity `json:"severity"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s %s %s: %s", p.Severity, p.Test, p.Path, p.Message)
}

// Report is the outcome of validating one document.
type Report struct {
	// Problems in the order of the tests, schema first.
	Problems []Problem `json:"problems"`
}

// Valid reports whether the document passed the schema and every
// mandatory test.
func (r Report) Valid() bool {
	for _, p := range r.Problems {
		if p.Severity == Error {
			return false
		}
	}
	return true
}

// Failed lists the tests that found an error, once each, sorted.
func (r Report) Failed() []string { return r.tests(Error) }

// Warned lists the tests that found a warning, once each, sorted.
func (r Report) Warned() []string { return r.tests(Warning) }

func (r Report) tests(sev Severity) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range r.Problems {
		if p.Severity == sev && !seen[p.Test] {
			seen[p.Test] = true
			out = append(out, p.Test)
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessTestID(out[i], out[j]) })
	return out
}

// lessTestID orders "schema" first, then section numbers numerically.
func lessTestID(a, b string) bool {
	if a == TestSchema || b == TestSchema {
		return a == TestSchema && b != TestSchema
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			if len(pa[i]) != len(pb[i]) {
				return len(pa[i]) < len(pb[i])
			}
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

// Validate checks one CSAF 2.0 document against the CSAF JSON schema and
// every mandatory test of section 6.1. It returns an error only when the
// validator cannot run (the schemas were not built in:
// csafschemas.ErrSchemasMissing); everything wrong with the input, down to
// not being JSON, is a Problem in the report.
func Validate(data []byte) (Report, error) {
	s, err := loadSchemas()
	if err != nil {
		return Report{}, err
	}
	root, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return Report{Problems: []Problem{{Test: TestSchema, Severity: Error,
			Message: fmt.Sprintf("not a JSON document (%v): a CSAF document is one JSON object", err)}}}, nil
	}
	d := newDoc(root, s)
	d.raw = data
	d.out = append(d.out, s.problems(root)...)
	for _, t := range mandatory {
		t.run(d)
	}
	for _, t := range optional {
		t.run(d)
	}
	for _, t := range informative {
		t.run(d)
	}
	return Report{Problems: d.out}, nil
}

// schemas is the compiled CSAF schema, the CVSS schemas by version, and
// the strict CSAF schema of 6.2.20.
type schemas struct {
	csaf   *jsonschema.Schema
	cvss   map[string]*jsonschema.Schema // "2.0", "3.0", "3.1"
	strict *jsonschema.Schema
}

var (
	compileOnce sync.Once
	compiled    *schemas
	compileErr  error
)

// loadSchemas compiles the embedded schemas, once per process.
func loadSchemas() (*schemas, error) {
	compileOnce.Do(func() { compiled, compileErr = compile(csafschemas.FS()) })
	return compiled, compileErr
}

// offline refuses every schema that is not embedded.
type offline struct{}

func (offline) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema %s is not one of the embedded CSAF schemas, and nothing is fetched over the network", u)
}

const csafURL = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"

func compile(fsys fs.FS) (*schemas, error) {
	if !csafschemas.Available() {
		return nil, csafschemas.ErrSchemasMissing
	}
	read := func(path string) (any, error) {
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", path, err)
		}
		return doc, nil
	}
	// newCompiler registers the CSAF schema (made strict when asked) and the
	// CVSS schemas refs names.
	newCompiler := func(refs map[string]string, strict bool) (*jsonschema.Compiler, error) {
		c := jsonschema.NewCompiler()
		c.UseLoader(offline{})
		doc, err := read(csafschemas.CSAF)
		if err != nil {
			return nil, err
		}
		if strict {
			closeObjects(doc)
		}
		if err := c.AddResource(csafURL, doc); err != nil {
			return nil, err
		}
		for url, path := range refs {
			doc, err := read(path)
			if err != nil {
				return nil, err
			}
			if err := c.AddResource(url, doc); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	c, err := newCompiler(csafschemas.Refs, false)
	if err != nil {
		return nil, err
	}
	s := &schemas{cvss: map[string]*jsonschema.Schema{}}
	if s.csaf, err = c.Compile(csafURL); err != nil {
		return nil, fmt.Errorf("compiling the csaf schema: %w", err)
	}
	for version, path := range map[string]string{"2.0": csafschemas.CVSS20, "3.0": csafschemas.CVSS30, "3.1": csafschemas.CVSS31} {
		for url, p := range csafschemas.Refs {
			if p == path {
				if s.cvss[version], err = c.Compile(url); err != nil {
					return nil, fmt.Errorf("compiling the cvss %s schema: %w", version, err)
				}
			}
		}
	}
	sc, err := newCompiler(csafschemas.StrictRefs, true)
	if err != nil {
		return nil, err
	}
	if s.strict, err = sc.Compile(csafURL); err != nil {
		return nil, fmt.Errorf("compiling the strict csaf schema: %w", err)
	}
	return s, nil
}

// closeObjects makes a schema strict: every schema with properties and no
// word on others gets additionalProperties false.
func closeObjects(node any) {
	switch n := node.(type) {
	case map[string]any:
		if _, ok := n["properties"].(map[string]any); ok {
			if _, set := n["additionalProperties"]; !set {
				n["additionalProperties"] = false
			}
		}
		for _, v := range n {
			closeObjects(v)
		}
	case []any:
		for _, v := range n {
			closeObjects(v)
		}
	}
}
