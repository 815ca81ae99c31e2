package members

import (
	"fmt"
	"slices"
	"strings"
)

// Vocabulary is the set of words a member record and an alert may use. The
// zero value of each list means its default (see DefaultVocabulary).
type Vocabulary struct {
	// Sectors an organisation may belong to and an alert may name.
	// Default: patient-care, health-it, payers, pharma, labs-blood, medtech,
	// public-health, mass-fatality, federal.
	Sectors []string `yaml:"sectors"`
	// Lanes (severity lanes) an alert may travel in. Default: flash,
	// urgent, routine, info.
	Lanes []string `yaml:"lanes"`
	// Capabilities are the mutual-aid capability types a responder may
	// declare and a request may ask for. Default: incident-response,
	// forensics, network-restoration, identity-recovery, ehr-downtime-support,
	// clinical-device-loaner, staff-augmentation, patient-diversion,
	// communications, legal-notification.
	Capabilities []string `yaml:"capabilities"`
}

// The default vocabulary lists; DefaultVocabulary hands out copies.
var (
	// defaultSectors are the healthcare sectors Tocsin knows by default.
	defaultSectors = []string{"patient-care", "health-it", "payers", "pharma", "labs-blood", "medtech", "public-health", "mass-fatality", "federal"}
	// defaultLanes are the severity lanes, most urgent first.
	defaultLanes = []string{"flash", "urgent", "routine", "info"}
	// defaultCapabilities are the mutual-aid capability types.
	defaultCapabilities = []string{"incident-response", "forensics", "network-restoration", "identity-recovery", "ehr-downtime-support",
		"clinical-device-loaner", "staff-augmentation", "patient-diversion", "communications", "legal-notification"}
)

// DefaultVocabulary returns the default sectors, lanes and capability types
// (copies: changing them changes no one else's).
func DefaultVocabulary() Vocabulary {
	return Vocabulary{Sectors: slices.Clone(defaultSectors), Lanes: slices.Clone(defaultLanes), Capabilities: slices.Clone(defaultCapabilities)}
}

// WithDefaults returns v with every empty list replaced by its default.
func (v Vocabulary) WithDefaults() Vocabulary {
	d := DefaultVocabulary()
	if len(v.Sectors) == 0 {
		v.Sectors = d.Sectors
	}
	if len(v.Lanes) == 0 {
		v.Lanes = d.Lanes
	}
	if len(v.Capabilities) == 0 {
		v.Capabilities = d.Capabilities
	}
	return v
}

// Validate checks that every word of v (after defaults) is a lowercase
// token and appears once in its list. The words become NATS subject tokens.
func (v Vocabulary) Validate() error {
	v = v.WithDefaults()
	for _, l := range []struct {
		what  string
		words []string
	}{{"sector", v.Sectors}, {"lane", v.Lanes}, {"capability type", v.Capabilities}} {
		for i, w := range l.words {
			if !isToken(w) {
				return quiet(ErrInvalid, "vocabulary: %s %q is not a lowercase token (%s)", l.what, w, tokenRule)
			}
			if slices.Contains(l.words[:i], w) {
				return quiet(ErrInvalid, "vocabulary: %s %q is listed twice; list each once", l.what, w)
			}
		}
	}
	return nil
}

// CheckSector returns nil when s is a known sector, else an error listing
// the known sectors, with a suggestion when s is close to one of them.
func (v Vocabulary) CheckSector(s string) error {
	return checkWord("sector", s, v.WithDefaults().Sectors)
}

// CheckLane returns nil when s is a known lane, else an error listing the
// known lanes, with a suggestion when s is close to one of them.
func (v Vocabulary) CheckLane(s string) error {
	return checkWord("lane", s, v.WithDefaults().Lanes)
}

// CheckCapability returns nil when s is a known capability type, else an
// error listing the known types, with a suggestion when s is close to one.
func (v Vocabulary) CheckCapability(s string) error {
	return checkWord("capability type", s, v.WithDefaults().Capabilities)
}

// checkWord reports whether w is one of known, explaining when it is not.
func checkWord(what, w string, known []string) error {
	if slices.Contains(known, w) {
		return nil
	}
	return quiet(ErrUnknownWord, "unknown %s %q%s; known: %s", what, w, didYouMean(w, known), strings.Join(known, ", "))
}

// didYouMean returns `; did you mean "x"?` for the known word closest to w
// when it is close enough to be a likely typo, else "".
func didYouMean(w string, known []string) string {
	best, bestD := "", -1
	for _, k := range known {
		if d := editDistance(strings.ToLower(w), k); bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD < 0 || bestD > max(2, len(best)/3) {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of neighbours
// each cost 1, so "hosptial" is 1 away from "hospital".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
