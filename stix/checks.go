package stix

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
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
	// network-traffic: end "MUST be greater than or equal to" start.
	{"start", "end", true},
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

// langTag matches a well-formed RFC 5646 language tag (langtag, privateuse
// or a grandfathered tag), case-insensitively: "en", "en-US", "zh-Hant-TW",
// "de-CH-1901", "x-klingon".
var langTag = regexp.MustCompile(`(?i)^(?:(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?` +
	`(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*(?:-x(?:-[a-z0-9]{1,8})+)?` +
	`|x(?:-[a-z0-9]{1,8})+` +
	`|en-gb-oed|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)|sgn-(?:be-fr|be-nl|ch-de))$`)

// checkLang reports a lang that is not an RFC 5646 language tag, which
// the specification requires.
func checkLang(r *Result, base, id string, obj map[string]any) {
	if lang, ok := obj["lang"].(string); ok && !langTag.MatchString(lang) {
		r.add(CodeInvalidField, id, base+"/lang", fmt.Sprintf("lang %q is not an RFC 5646 language tag; use one such as \"en\" or \"en-US\"", lang))
	}
}

// checkSelectors reports a granular-marking selector that names nothing in
// its object: the specification requires every selector to refer to a
// property (and, through list indexes, to an element) that is there.
func checkSelectors(r *Result, base, id string, obj map[string]any) {
	gms, _ := obj["granular_markings"].([]any)
	for i, g := range gms {
		gm, _ := g.(map[string]any)
		sels, _ := gm["selectors"].([]any)
		for j, sel := range sels {
			s, ok := sel.(string)
			if !ok || resolves(obj, s) {
				continue
			}
			r.add(CodeInvalidField, id, base+"/granular_markings/"+strconv.Itoa(i)+"/selectors/"+strconv.Itoa(j),
				fmt.Sprintf("granular-marking selector %q names no property of the object; name a property it has (\"description\", \"labels.[0]\")", s))
		}
	}
}

// resolves reports whether selector ("a.b.[2].c") names a value in obj.
func resolves(obj map[string]any, selector string) bool {
	var cur any = obj
	for _, seg := range strings.Split(selector, ".") {
		if n, ok := strings.CutPrefix(seg, "["); ok {
			i, err := strconv.Atoi(strings.TrimSuffix(n, "]"))
			list, isList := cur.([]any)
			if err != nil || !isList || !strings.HasSuffix(n, "]") || i < 0 || i >= len(list) {
				return false
			}
			cur = list[i]
			continue
		}
		m, isMap := cur.(map[string]any)
		if !isMap {
			return false
		}
		next, found := m[seg]
		if !found {
			return false
		}
		cur = next
	}
	return true
}
