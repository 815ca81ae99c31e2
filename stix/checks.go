package stix

import "fmt"

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
	// An object has a handful of timestamps: they are kept on the stack,
	// sorted by name for a stable order of problems.
	type stamp struct {
		name string
		at   instant
		ok   bool
	}
	var buf [8]stamp
	stamps := buf[:0]
	for k, v := range obj {
		if _, isString := v.(string); !isString || !props[k] {
			continue
		}
		stamps = append(stamps, stamp{name: k})
		for i := len(stamps) - 1; i > 0 && stamps[i-1].name > stamps[i].name; i-- {
			stamps[i-1], stamps[i] = stamps[i], stamps[i-1]
		}
	}
	for i := range stamps {
		k := stamps[i].name
		t, err := parseInstant(obj[k].(string))
		if err != nil {
			r.add(CodeInvalidTimestamp, id, base+"/"+k, fmt.Sprintf("%s: %v; give a real UTC date and time", k, err))
			continue
		}
		stamps[i].at, stamps[i].ok = t, true
	}
	find := func(name string) (instant, bool) {
		for _, s := range stamps {
			if s.name == name {
				return s.at, s.ok
			}
		}
		return instant{}, false
	}
	for _, o := range timeOrders {
		a, okA := find(o.first)
		b, okB := find(o.second)
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
