package store

import (
	"encoding/json"
	"time"

	"github.com/tocsin-project/tocsin/tlp"
)

// Object is one STIX object of a routed alert or advisory.
type Object struct {
	// ID is the STIX id ("indicator--...").
	ID string
	// Type is the STIX type ("indicator").
	Type string
	// SpecVersion is the object's spec_version ("2.1" when absent, as for
	// cyber-observables).
	SpecVersion string
	// Version is the object's version: its modified time, else its
	// created time, else the signed time of the message that carried it.
	Version time.Time
	// VersionText is Version as the object spells it (modified or
	// created), or Version formatted when the object has neither.
	VersionText string
	// TLP is the object's own TLP, from its object and granular markings
	// resolved against the marking-definitions of its bundle; an unknown
	// marking makes it RED (fail closed). Unmarked objects are CLEAR.
	TLP tlp.Level
	// Name is the object's name, when it has one (for the console).
	Name string
	// Pattern is an indicator's pattern (for the console).
	Pattern string
	// Raw is the object as it was in the bundle.
	Raw json.RawMessage
}

// rawObject is what the index reads of a STIX object.
type rawObject struct {
	Type              string   `json:"type"`
	ID                string   `json:"id"`
	SpecVersion       string   `json:"spec_version"`
	Created           string   `json:"created"`
	Modified          string   `json:"modified"`
	Name              string   `json:"name"`
	Pattern           string   `json:"pattern"`
	ObjectMarkingRefs []string `json:"object_marking_refs"`
	GranularMarkings  []struct {
		MarkingRef string `json:"marking_ref"`
	} `json:"granular_markings"`
	DefinitionType string `json:"definition_type"`
	Definition     struct {
		TLP string `json:"tlp"`
	} `json:"definition"`
	Extensions map[string]json.RawMessage `json:"extensions"`
}

// parseBundle returns the objects of a JSON STIX bundle, each with its own
// TLP; signed is the carrying message's signed time (the version of an
// object that has no created or modified). A bundle that does not decode
// gives no objects.
func parseBundle(bundle []byte, signed time.Time) []*Object {
	var b struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if len(bundle) == 0 || json.Unmarshal(bundle, &b) != nil {
		return nil
	}
	raws := make([]rawObject, len(b.Objects))
	defs := tlp.Definitions{}
	for i, data := range b.Objects {
		if json.Unmarshal(data, &raws[i]) != nil {
			raws[i] = rawObject{}
			continue
		}
		if raws[i].Type == "marking-definition" {
			defs[raws[i].ID] = definition(&raws[i])
		}
	}
	out := make([]*Object, 0, len(raws))
	for i, r := range raws {
		if r.ID == "" || r.Type == "" {
			continue
		}
		o := &Object{ID: r.ID, Type: r.Type, SpecVersion: r.SpecVersion, Name: r.Name, Pattern: r.Pattern, Raw: b.Objects[i]}
		if o.SpecVersion == "" {
			o.SpecVersion = "2.1"
		}
		o.VersionText = r.Modified
		if o.VersionText == "" {
			o.VersionText = r.Created
		}
		if v, err := time.Parse(time.RFC3339Nano, o.VersionText); err == nil {
			o.Version = v.UTC()
		} else {
			o.Version = signed.UTC()
			o.VersionText = FormatTime(o.Version)
		}
		refs := append([]string(nil), r.ObjectMarkingRefs...)
		for _, g := range r.GranularMarkings {
			refs = append(refs, g.MarkingRef)
		}
		l, err := defs.Effective(tlp.Clear, refs...)
		if err != nil {
			l = tlp.Red
		}
		o.TLP = l
		out = append(out, o)
	}
	return out
}

// definition reads what TLP needs of a marking-definition: TLP 1.0's
// definition.tlp or the TLP 2.0 extension's tlp_2_0.
func definition(r *rawObject) tlp.Definition {
	d := tlp.Definition{DefinitionType: r.DefinitionType}
	if d.DefinitionType == "tlp" {
		d.TLP = r.Definition.TLP
	}
	if ext, ok := r.Extensions[tlp.ExtensionTLP2]; ok {
		var v struct {
			TLP *string `json:"tlp_2_0"`
		}
		_ = json.Unmarshal(ext, &v)
		switch {
		case v.TLP != nil:
			d.TLP = *v.TLP
		case d.TLP == "":
			d.DefinitionType = "tlp" // the TLP extension without a level: unknown
		}
	}
	return d
}

// TimeLayout is how date_added and versions are written: RFC 3339, UTC,
// nanoseconds, so that every date_added is distinct and added_after pages
// exactly.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime writes t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
