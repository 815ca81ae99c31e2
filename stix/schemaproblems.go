package stix

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// maxSchemaProblems caps the problems reported for one object: a oneOf
// failure explains every branch, and the first few say enough.
const maxSchemaProblems = 5

// schemaProblems turns a schema validation error into problems whose paths
// are JSON pointers into the bundle (base is the object's own pointer).
func schemaProblems(err error, base, objectID string) ([]Problem, error) {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, fmt.Errorf("validating %s against its stix schema: %w", base, err)
	}
	var out []Problem
	seen := map[string]bool{}
	skipped := 0
	add := func(loc []string, msg string) {
		at := base + pointer(loc)
		if seen[at+"\x00"+msg] {
			return
		}
		seen[at+"\x00"+msg] = true
		if len(out) == maxSchemaProblems {
			skipped++
			return
		}
		out = append(out, Problem{Code: CodeSchema, ObjectID: objectID, Path: at,
			Message: msg + " (the official STIX 2.1 schema): correct the value at this path"})
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if msg, ok := alternatives(e); ok {
			add(e.InstanceLocation, msg)
			return
		}
		if len(e.Causes) == 0 {
			add(e.InstanceLocation, leafMessage(e))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if skipped > 0 {
		out[len(out)-1].Message += fmt.Sprintf("; and %d more schema errors in this object", skipped)
	}
	return out, nil
}

// leafMessage is the error's own message, without the location prefix.
func leafMessage(e *jsonschema.ValidationError) string {
	msg := e.Error()
	if _, after, ok := strings.Cut(msg, "': "); ok && strings.HasPrefix(msg, "at '") {
		return after
	}
	return msg
}

// alternatives summarises an anyOf whose failed branches all concern the
// value itself (as properties.json's "any type but null"): one message
// listing the wanted types instead of one per branch.
func alternatives(e *jsonschema.ValidationError) (string, bool) {
	if _, ok := e.ErrorKind.(*kind.AnyOf); !ok || len(e.Causes) == 0 {
		return "", false
	}
	var got string
	var wants, others []string
	for _, c := range e.Causes {
		if len(c.Causes) > 0 || !slices.Equal(c.InstanceLocation, e.InstanceLocation) {
			return "", false
		}
		if t, ok := c.ErrorKind.(*kind.Type); ok {
			got, wants = t.Got, append(wants, t.Want...)
		} else {
			others = append(others, leafMessage(c))
		}
	}
	parts := others
	if len(wants) > 0 {
		parts = append([]string{fmt.Sprintf("got %s, want %s", got, strings.Join(wants, " or "))}, others...)
	}
	return strings.Join(parts, "; "), true
}
