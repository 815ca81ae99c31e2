package csaf

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// maxSchemaProblems caps the schema problems of one document: a oneOf
// failure explains every branch, and the first few say enough.
const maxSchemaProblems = 20

// cvssPath matches the location of a CVSS object: its problems belong to
// test 6.1.8, which validates it against its own version's schema.
var cvssPath = regexp.MustCompile(`^/vulnerabilities/\d+/scores/\d+/cvss_v[23](/|$)`)

// problems validates root against the CSAF schema.
func (s *schemas) problems(root any) []Problem {
	return schemaProblems(s.csaf.Validate(root), TestSchema, "", "the CSAF 2.0 schema", func(path string) bool {
		return cvssPath.MatchString(path)
	})
}

// schemaProblems turns a validation error into problems of test, with
// paths under base; skip drops problems at the paths it returns true for.
func schemaProblems(err error, test, base, what string, skip func(string) bool) []Problem {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Test: test, Path: base, Severity: Error, Message: fmt.Sprintf("cannot be validated against %s: %v", what, err)}}
	}
	var out []Problem
	seen := map[string]bool{}
	more := 0
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		path := base + pointer(e.InstanceLocation)
		if skip != nil && skip(path) {
			return
		}
		msg := leafMessage(e)
		if seen[path+"\x00"+msg] {
			return
		}
		seen[path+"\x00"+msg] = true
		if len(out) == maxSchemaProblems {
			more++
			return
		}
		out = append(out, Problem{Test: test, Path: path, Severity: Error,
			Message: msg + " (" + what + "): correct the value at this path"})
	}
	walk(ve)
	if more > 0 {
		out[len(out)-1].Message += fmt.Sprintf("; and %d more", more)
	}
	return out
}

// leafMessage is the error's own message, without the location prefix.
func leafMessage(e *jsonschema.ValidationError) string {
	msg := e.Error()
	if _, after, ok := strings.Cut(msg, "': "); ok && strings.HasPrefix(msg, "at '") {
		return after
	}
	return msg
}
