package stix

import (
	"errors"
	"fmt"
)

// CustomPolicy says what to do with custom objects and custom properties.
type CustomPolicy uint8

const (
	// CustomAllow accepts custom content that follows the STIX 2.1 naming
	// rules: custom object types start with "x-" and are otherwise valid type
	// names (a-z, 0-9, single hyphens, 3 to 250 characters); custom property
	// names are 3 to 250 characters of a-z, 0-9 and underscore. This is the
	// default.
	CustomAllow CustomPolicy = iota
	// CustomReject refuses every custom object type and every property that
	// the official schema of the object's type does not define.
	CustomReject
)

// Default limits, used when an Options field is zero.
const (
	// DefaultMaxBundleBytes is 1 MiB, the default NATS max_payload.
	DefaultMaxBundleBytes = 1 << 20
	// DefaultMaxObjects is the default limit on a bundle's objects.
	DefaultMaxObjects = 10000
	// DefaultMaxDepth is the default limit on JSON nesting (the bundle
	// object is depth 1, its objects are depth 3).
	DefaultMaxDepth = 32
)

// Options configure a Validator. The zero value is the default.
type Options struct {
	// Custom is the custom-content policy. Default CustomAllow.
	Custom CustomPolicy
	// MaxBundleBytes is the largest bundle accepted, in bytes; larger ones
	// are refused ("oversized") before parsing. Default
	// DefaultMaxBundleBytes.
	MaxBundleBytes int
	// MaxObjects is the most objects a bundle may hold ("oversized").
	// Default DefaultMaxObjects.
	MaxObjects int
	// MaxDepth is the deepest JSON nesting accepted ("oversized"), checked
	// while parsing. Default DefaultMaxDepth.
	MaxDepth int
	// PatternCheck parses the pattern of every indicator whose pattern_type
	// is "stix". Its error refuses the bundle with the Code of a
	// *pattern.Error ("invalid-pattern" or "invalid-hash"), or
	// "invalid-pattern" for any other error. Default nil: pattern.Parse, the
	// STIX 2.1 patterning grammar plus the checks it cannot make (hash
	// lengths), whose canonical form the Result then carries
	// (Pattern.Canonical). To skip patterns, give a func that returns nil.
	PatternCheck func(pattern string) error
	// PatternTypes are the pattern_type values besides "stix" that are
	// accepted, unchecked (for example "sigma", "yara"). Default none: any
	// other pattern_type is refused with "unsupported-pattern-type", since
	// Tocsin can only match, deduplicate and count sightings of STIX
	// patterns.
	PatternTypes []string
}

// withDefaults fills in the zero fields and rejects impossible values.
func (o Options) withDefaults() (Options, error) {
	if o.Custom > CustomReject {
		return o, fmt.Errorf("stix options: unknown custom policy %d: use CustomAllow or CustomReject", o.Custom)
	}
	for _, f := range []struct {
		name  string
		value *int
		def   int
	}{
		{"MaxBundleBytes", &o.MaxBundleBytes, DefaultMaxBundleBytes},
		{"MaxObjects", &o.MaxObjects, DefaultMaxObjects},
		{"MaxDepth", &o.MaxDepth, DefaultMaxDepth},
	} {
		if *f.value < 0 {
			return o, fmt.Errorf("stix options: %s is %d: give a positive limit, or 0 for the default %d", f.name, *f.value, f.def)
		}
		if *f.value == 0 {
			*f.value = f.def
		}
	}
	if o.MaxDepth < 3 {
		return o, errors.New("stix options: MaxDepth must be at least 3, the depth of a bundle's objects")
	}
	return o, nil
}
