package stix

import (
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
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
	var skipped int
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		at := base + pointer(e.InstanceLocation)
		msg := e.Error()
		if _, after, ok := strings.Cut(msg, "': "); ok && strings.HasPrefix(msg, "at '") {
			msg = after
		}
		if seen[at+"\x00"+msg] {
			return
		}
		seen[at+"\x00"+msg] = true
		if len(out) == maxSchemaProblems {
			skipped++
			return
		}
		out = append(out, Problem{
			Code: CodeSchema, ObjectID: objectID, Path: at,
			Message: fmt.Sprintf("%s (official STIX 2.1 schema): fix the value at %s", msg, at),
		})
	}
	walk(ve)
	if skipped > 0 {
		out[len(out)-1].Message += fmt.Sprintf("; and %d more schema errors in this object", skipped)
	}
	return out, nil
}
