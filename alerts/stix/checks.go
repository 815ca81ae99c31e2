package stix

import (
	"fmt"
	"sort"
)

// The checks the schemas cannot make, run on objects the schema accepted.

// timeOrders are the pairs of timestamps whose order the specification
// fixes: the second must come after the first, or may equal it when
// equalOK.
var timeOrders = []struct {
	first, second string
	equalOK       bool
}{
	{"created", "modified", true},
	{"valid_from", "valid_until", false},
	{"first_seen", "last_seen", true},
	{"first_observed", "last_observed", true},
	{"start_time", "stop_time", false},
}

// checkSpecVersion reports a spec_version other than "2.1" (the schemas also
// accept "2.0").
func checkSpecVersion(r *Result, base, id string, obj map[string]any) {
	if sv, ok := obj["spec_version"].(string); ok && sv != "2.1" {
		r.add(CodeInvalidSpecVersion, id, base+"/spec_version",
			fmt.Sprintf("spec_version is %q: Tocsin takes STIX 2.1 only, set it to \"2.1\" (and convert the object)", sv))
	}
}

// checkTimes reports timestamps that are not real dates and times, then
// pairs of timestamps out of order. props are the type's properties, true
// for timestamps.
func checkTimes(r *Result, base, id string, obj map[string]any, props map[string]bool) {
	times := map[string]instant{}
	names := make([]string, 0, len(obj))
	for k := range obj {
		if props[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names) // a stable order of problems
	for _, k := range names {
		s, ok := obj[k].(string)
		if !ok {
			continue
		}
		t, err := parseInstant(s)
		if err != nil {
			r.add(CodeInvalidTimestamp, id, base+"/"+k, fmt.Sprintf("%s: %v; give a real UTC date and time", k, err))
			continue
		}
		times[k] = t
	}
	for _, o := range timeOrders {
		a, okA := times[o.first]
		b, okB := times[o.second]
		if !okA || !okB {
			continue
		}
		if c := b.compare(a); c < 0 || c == 0 && !o.equalOK {
			rel := "before"
			if c == 0 {
				rel = "equal to"
			}
			r.add(CodeTimeOrder, id, base+"/"+o.second, fmt.Sprintf("%s %s is %s %s %s: it must be %s",
				o.second, obj[o.second], rel, o.first, obj[o.first], orderWord(o.equalOK)+" "+o.first))
		}
	}
}

func orderWord(equalOK bool) string {
	if equalOK {
		return "at or after"
	}
	return "after"
}
