package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaPath is the record's published JSON Schema.
const schemaPath = "../docs/schemas/record.schema.json"

var recordSchema struct {
	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

// strictSchema is the published schema with additionalProperties false on
// every object it describes: the published one lets readers accept fields
// added later; the agent's own lines must not carry a field it does not
// document. It descends through $defs, properties and items, not into
// if/then or allOf, whose properties are partial on purpose.
func strictSchema(doc any) {
	v, ok := doc.(map[string]any)
	if !ok {
		return
	}
	if props, ok := v["properties"].(map[string]any); ok {
		if _, set := v["additionalProperties"]; !set {
			v["additionalProperties"] = false
		}
		for _, p := range props {
			strictSchema(p)
		}
	}
	if defs, ok := v["$defs"].(map[string]any); ok {
		for _, d := range defs {
			strictSchema(d)
		}
	}
	strictSchema(v["items"])
}

// compiledRecordSchema compiles docs/schemas/record.schema.json (strict),
// once. Formats (date-time) are asserted; no loader is registered, so a
// remote $ref would fail to compile: the schema is self-contained.
func compiledRecordSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	recordSchema.once.Do(func() {
		data, err := os.ReadFile(schemaPath)
		if err != nil {
			recordSchema.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			recordSchema.err = err
			return
		}
		strictSchema(doc)
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		c.UseLoader(noLoader{})
		const url = "https://tocsin-project.github.io/schemas/record/1/record.schema.json"
		if recordSchema.err = c.AddResource(url, doc); recordSchema.err != nil {
			return
		}
		recordSchema.schema, recordSchema.err = c.Compile(url)
	})
	if recordSchema.err != nil {
		t.Fatalf("%s: %v", schemaPath, recordSchema.err)
	}
	return recordSchema.schema
}

// noLoader refuses every URL: the schema must not need one.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, &os.PathError{Op: "load", Path: url, Err: os.ErrPermission}
}

// validLines are the lines checkRecordLine found valid: tests poll a
// growing file, and each line is validated once (a validation costs
// milliseconds under -race).
var validLines sync.Map

// checkRecordLine fails the test unless line (one JSON object) validates
// against the record's schema.
func checkRecordLine(t testing.TB, line []byte) {
	t.Helper()
	if _, ok := validLines.Load(string(line)); ok {
		return
	}
	if err := recordProblem(compiledRecordSchema(t), line); err != nil {
		t.Fatal(err)
	}
	validLines.Store(string(line), struct{}{})
}

// recordProblem says why line does not validate against sch, for
// goroutines that may not call t.Fatal (an HTTP handler).
func recordProblem(sch *jsonschema.Schema, line []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return fmt.Errorf("a record that is not JSON: %v\n%s", err, line)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("a record that does not validate against %s: %v\n%s", schemaPath, err, line)
	}
	return nil
}

// TestRecordSchemaIsSelfContained: every $ref of the schema is a pointer
// into the schema itself.
func TestRecordSchemaIsSelfContained(t *testing.T) {
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && k == "$ref" && !strings.HasPrefix(s, "#") {
					t.Errorf("$ref %q leaves the schema", s)
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	walk(doc)
	compiledRecordSchema(t)
}
