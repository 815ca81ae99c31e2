// Package stixschemas embeds the official OASIS STIX 2.1 JSON schemas (commit
// 3bf9e69dc18dbbe995676c5dde027ead76e2b6fa of
// github.com/oasis-open/cti-stix2-json-schemas, BSD-3-Clause).
//
// The schema files are not committed: `make schemas` (scripts/schemas.sh)
// copies them into schemas/ and verifies them against SHA256SUMS before the
// build. A binary built from a fresh clone without that step still compiles,
// but Available reports false and validators refuse to start with
// ErrSchemasMissing.
package stixschemas

import (
	"embed"
	"errors"
	"io/fs"
)

// ErrSchemasMissing says that the binary was built without the STIX schemas.
var ErrSchemasMissing = errors.New("stix schemas are not built into this binary: run 'make schemas' (or 'make build') and rebuild")

//go:embed all:schemas
var embedded embed.FS

// probe is a file that every complete copy of the schemas has.
const probe = "common/core.json"

// FS returns the embedded schema tree, rooted at the upstream schemas/ folder:
// "common/core.json", "sdos/indicator.json", ..., plus "LICENSE" (the upstream
// licence, which must travel with the schemas). Without the schemas it is an
// empty tree apart from the placeholder ".keep".
func FS() fs.FS {
	sub, err := fs.Sub(embedded, "schemas")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "schemas" is valid.
		panic(err)
	}
	return sub
}

// Available reports whether the schemas were embedded at build time.
func Available() bool {
	_, err := fs.Stat(FS(), probe)
	return err == nil
}
