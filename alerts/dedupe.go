package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/tocsin-project/tocsin/pattern"
	"github.com/tocsin-project/tocsin/stix"
)

// firstAlert is the dedupe claim of an indicator set in one sector and the
// index record of one indicator (both in ROUTED, under
// records.RouterKeyPrefix: routedrecord.go): the alert that first carried
// it, the indicator its sighting summaries name and the alert's effective
// TLP.
type firstAlert struct {
	AlertID    string   `json:"alert_id"`
	Originator string   `json:"originator"`
	PatternKey string   `json:"pattern_key"`
	Sectors    []string `json:"sectors,omitempty"`
	// Indicator and Pattern are what a summary of the count names: in an
	// index record the first alert's own indicator, in a DEDUPE record (and
	// a duplicate's index records) its lead indicator (leadOf).
	Indicator string `json:"indicator,omitempty"`
	Pattern   string `json:"pattern,omitempty"`
	// TLP is the alert's effective TLP ("amber"): its summaries are
	// disclosed no wider.
	TLP string `json:"tlp,omitempty"`
	// Claimed is when a dedupe claim was made (Unix seconds; 0 in an
	// index record): past Options.DedupeWindow the claim is free again.
	Claimed int64 `json:"claimed,omitempty"`
}

// marshal is the record's JSON, as encoding/json writes it. Routing writes
// two or more per alert; building them by hand spares the reflection.
func (f firstAlert) marshal() []byte {
	if !plain(f.AlertID) || !plain(f.Originator) || !plain(f.PatternKey) || slices.ContainsFunc(f.Sectors, func(s string) bool { return !plain(s) }) ||
		!plain(f.Indicator) || !plain(f.Pattern) || !plain(f.TLP) {
		data, _ := json.Marshal(f)
		return data
	}
	b := make([]byte, 0, 120+len(f.AlertID)+len(f.Originator)+len(f.PatternKey)+16*len(f.Sectors)+len(f.Indicator)+len(f.Pattern)+len(f.TLP))
	b = append(b, `{"alert_id":"`...)
	b = append(b, f.AlertID...)
	b = append(b, `","originator":"`...)
	b = append(b, f.Originator...)
	b = append(b, `","pattern_key":"`...)
	b = append(b, f.PatternKey...)
	b = append(b, '"')
	if len(f.Sectors) > 0 {
		b = append(b, `,"sectors":[`...)
		for i, s := range f.Sectors {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, s...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	for _, kv := range [...][2]string{{"indicator", f.Indicator}, {"pattern", f.Pattern}, {"tlp", f.TLP}} {
		if kv[1] != "" {
			b = append(b, `,"`...)
			b = append(b, kv[0]...)
			b = append(b, `":"`...)
			b = append(b, kv[1]...)
			b = append(b, '"')
		}
	}
	if f.Claimed != 0 {
		b = append(b, `,"claimed":`...)
		b = strconv.AppendInt(b, f.Claimed, 10)
	}
	return append(b, '}')
}

// leadOf is the indicator a re-publish of a pattern set is summarised
// with: the one whose canonical pattern sorts first, so that every alert
// carrying the set (the first and its re-publishers) agrees on it. (A
// sighting is summarised with the indicator it names; the count is of the
// whole set either way.)
func leadOf(ps []stix.Pattern) (id, pat string) {
	best := ""
	for _, p := range ps {
		if c := canonical(p); id == "" || c < best {
			best, id, pat = c, p.IndicatorID, p.Pattern
		}
	}
	return id, pat
}

// canonical is a pattern as the dedupe identity reads it: its type and
// its canonical form.
func canonical(p stix.Pattern) string {
	c := p.Canonical // the validator's parse, when it made one
	if c == "" {
		c = strings.TrimSpace(p.Pattern)
		if parsed, err := pattern.Parse(p.Pattern); err == nil {
			c = parsed.String()
		}
	}
	return p.Type + ":" + c
}

// plain reports whether s is written in JSON as it is, between quotes:
// printable ASCII that encoding/json does not escape.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// patternKey is the dedupe identity of a bundle's indicators: a hash of
// their canonical patterns, sorted, so that two bundles whose patterns
// differ only in spacing or keyword case are the same.
func patternKey(ps []stix.Pattern) string {
	canon := make([]string, 0, len(ps))
	for _, p := range ps {
		canon = append(canon, canonical(p))
	}
	slices.Sort(canon)
	canon = slices.Compact(canon)
	sum := sha256.Sum256([]byte(strings.Join(canon, "\n")))
	return hex.EncodeToString(sum[:16])
}

// dedupeKey is the dedupe and sighting identity of an alert: its
// patternKey, apart for exercises ("x-" first). A drill must not swallow
// a real alert with the same indicators for the dedupe window, nor count
// its sightings for it.
func dedupeKey(ps []stix.Pattern, exercise bool) string {
	if exercise {
		return "x-" + patternKey(ps)
	}
	return patternKey(ps)
}
