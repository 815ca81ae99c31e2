// Package stix validates the STIX 2.1 bundles that alerts carry.
//
// A bundle passes when its envelope is right (type "bundle", a bundle id, a
// non-empty objects array, no duplicate keys, within the size limits), every
// object passes the official OASIS JSON schema of its own type (embedded by
// package stixschemas; never the upstream bundle.json, which rejects valid
// bundles), and the checks the schemas cannot make hold: spec_version "2.1",
// real dates, time order, the types that references point at, known
// markings, pattern_type and the indicator patterns, and the custom-content
// policy. Every failure is a Problem with a kebab-case reason code.
//
// For the common types a hand-written fast path reaches the schema's verdict
// without running the schema (several times faster); it defers to the
// schema whenever it is unsure, and the schema explains every rejection.
package stix
