package stix

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The fast path decides, for the common object types, what the official
// schema would decide, in a fraction of the time. It answers pass, fail or
// unsure; only unsure (shapes it does not model: hashes, _bin and _hex
// properties, numbers that are not plain integers, observed-data objects...)
// and fail (to get the schema's own explanation) go to the schema.

// verdict is the fast path's answer; the greater of two verdicts wins when
// they are combined, since every rule of an object must hold.
type verdict uint8

const (
	pass verdict = iota
	unsure
	fail
)

func when(ok bool) verdict {
	if ok {
		return pass
	}
	return fail
}

// check decides one property value.
type check func(v any) verdict

// shape is the fast model of one type's schema.
type shape struct {
	// props holds a check for every property the schema defines.
	props map[string]check
	// required are the properties the schema requires.
	required []string
	// extra decides the schema's rules that span properties; nil when none.
	extra func(obj map[string]any) verdict
}

// decide returns the verdict of the schema on obj. Every rule of the core
// schemas is a conjunction, so the first failure decides.
func (s *shape) decide(obj map[string]any) verdict {
	v := pass
	for k, val := range obj {
		r := propertyRule(k, val)
		if c, ok := s.props[k]; ok {
			r = max(r, c(val))
		}
		if r == fail {
			return fail
		}
		v = max(v, r)
	}
	for _, k := range s.required {
		if _, ok := obj[k]; !ok {
			return fail
		}
	}
	if s.extra != nil {
		v = max(v, s.extra(obj))
	}
	return v
}

// propertyRule is common/properties.json, which core.json applies to every
// property of an object: the name must match one of its patterns and the
// value must not be null or an empty array.
func propertyRule(k string, v any) verdict {
	if !isPropertyName(k) {
		return fail // the _bin and _hex patterns only accept names this one does
	}
	if strings.HasSuffix(k, "_bin") || strings.HasSuffix(k, "_hex") {
		return unsure
	}
	switch v := v.(type) {
	case nil:
		return fail
	case []any:
		return when(len(v) > 0)
	}
	return pass
}

// properties applies propertyRule to every member of a JSON object.
func properties(m map[string]any) verdict {
	v := pass
	for k, val := range m {
		v = max(v, propertyRule(k, val))
	}
	return v
}

func isString(v any) verdict {
	_, ok := v.(string)
	return when(ok)
}

func isBool(v any) verdict {
	_, ok := v.(bool)
	return when(ok)
}

// forbidden is core.json's "not required": these properties may not appear.
func forbidden(any) verdict { return fail }

func oneOf(values ...string) check {
	return func(v any) verdict {
		s, ok := v.(string)
		if !ok {
			return fail
		}
		for _, want := range values {
			if s == want {
				return pass
			}
		}
		return fail
	}
}

// integer checks "type": "integer" with minimum and maximum. A number that is
// not a plain decimal integer (1.0, 1e2, beyond int64) is left to the schema.
func integer(lo, hi int64) check {
	return func(v any) verdict {
		switch n := v.(type) {
		case json.Number:
			i, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return unsure
			}
			return when(lo <= i && i <= hi)
		case string, bool, nil, []any, map[string]any:
			return fail
		}
		return unsure
	}
}

func timestamp(v any) verdict {
	s, ok := v.(string)
	if !ok {
		return fail
	}
	_, ok = timestampFraction(s)
	return when(ok)
}

// timestampMillis is core.json's created and modified: a timestamp with at
// least millisecond precision.
func timestampMillis(v any) verdict {
	s, ok := v.(string)
	if !ok {
		return fail
	}
	digits, ok := timestampFraction(s)
	return when(ok && digits >= 3)
}

// identifier checks common/identifier.json, and when prefixes are given
// that the id starts with one of them.
func identifier(prefixes ...string) check {
	return func(v any) verdict {
		s, ok := v.(string)
		return when(ok && isIdentifier(s) && (len(prefixes) == 0 || hasPrefix(s, prefixes...)))
	}
}

// identifierNot checks common/identifier.json and that the id starts with
// none of the prefixes.
func identifierNot(prefixes ...string) check {
	return func(v any) verdict {
		s, ok := v.(string)
		return when(ok && isIdentifier(s) && !hasPrefix(s, prefixes...))
	}
}

func hasPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// array checks a non-empty array whose items all pass item.
func array(item check) check {
	return func(v any) verdict {
		a, ok := v.([]any)
		if !ok || len(a) == 0 {
			return fail
		}
		r := pass
		for _, x := range a {
			if r = max(r, item(x)); r == fail {
				return fail
			}
		}
		return r
	}
}

// stringArray is a non-empty array of strings.
var stringArray = array(isString)

// killChainPhase is common/kill-chain-phase.json.
func killChainPhase(v any) verdict {
	m, ok := v.(map[string]any)
	if !ok {
		return fail
	}
	_, name := m["kill_chain_name"].(string)
	_, phase := m["phase_name"].(string)
	return when(name && phase)
}
