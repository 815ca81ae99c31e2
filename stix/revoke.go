package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tocsin-project/tocsin/internal/ids"
)

// ErrNothingToRevoke is wrapped by Revoke when a bundle holds no object its
// creator could withdraw.
var ErrNothingToRevoke = errors.New("nothing to revoke")

// revokeLayout is the STIX timestamp Revoke writes: UTC, milliseconds, the
// precision the specification requires of modified.
const revokeLayout = "2006-01-02T15:04:05.000Z"

// Revoke returns a new bundle holding the revoked version of every object
// of bundle that its creator may withdraw: the same id, created and
// created_by_ref, "revoked": true, and "modified" set to at (milliseconds,
// UTC), or to one millisecond after the object's previous version when at
// is not later. The other properties are kept as they were.
//
// An object is withdrawn when it is versionable (it has "created": SDOs,
// SROs, language content, not cyber-observables) and is the alert's own:
// its created_by_ref is absent or names the alert's creator, the
// created_by_ref of the bundle's first indicator (of its first versionable
// object when it has no indicator). Identities (the author, not a claim),
// objects another creator made (only a creator may version an object, STIX
// 2.1 section 3.6) and objects already revoked are left out. Marking
// definitions, which are never versioned, are carried unchanged so the
// revoked versions keep their markings.
func Revoke(bundle []byte, at time.Time) ([]byte, error) {
	var b struct {
		Objects []map[string]json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		return nil, fmt.Errorf("the alert's bundle is not a STIX bundle: %w", err)
	}
	creator, found := "", false
	for _, want := range []string{"indicator", ""} {
		for _, o := range b.Objects {
			if !found && versionable(o) && (want == "" || str(o["type"]) == want) {
				creator, found = str(o["created_by_ref"]), true
			}
		}
	}
	out := make([]map[string]json.RawMessage, 0, len(b.Objects))
	revoked := 0
	for i, o := range b.Objects {
		typ := str(o["type"])
		switch {
		case typ == "marking-definition":
			out = append(out, o)
			continue
		case !versionable(o) || typ == "identity" || string(o["revoked"]) == "true":
			continue
		}
		if by := str(o["created_by_ref"]); by != "" && by != creator {
			continue
		}
		prev, err := time.Parse(time.RFC3339Nano, str(o["modified"]))
		if err != nil {
			if prev, err = time.Parse(time.RFC3339Nano, str(o["created"])); err != nil {
				return nil, fmt.Errorf("object %d (%s) has no valid created or modified timestamp", i, str(o["id"]))
			}
		}
		mod := at.UTC().Truncate(time.Millisecond)
		if !mod.After(prev) {
			mod = prev.UTC().Truncate(time.Millisecond).Add(time.Millisecond)
		}
		v := make(map[string]json.RawMessage, len(o)+2)
		for k, raw := range o {
			v[k] = raw
		}
		v["modified"], _ = json.Marshal(mod.Format(revokeLayout))
		v["revoked"] = json.RawMessage("true")
		out = append(out, v)
		revoked++
	}
	if revoked == 0 {
		return nil, fmt.Errorf("%w: the bundle holds no object of its own creator that is not already revoked", ErrNothingToRevoke)
	}
	return json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": out})
}

// versionable reports whether o carries a created timestamp, which every
// SDO and SRO has and no cyber-observable does.
func versionable(o map[string]json.RawMessage) bool { _, ok := o["created"]; return ok }

// str is a raw JSON string's value, "" when it is not a string.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// RevocationProblems returns what makes bundle no revocation: a revocation
// carries only revoked versions ("revoked": true) and the marking
// definitions they use, and at least one revoked version. Revoke's output
// has none.
func RevocationProblems(bundle []byte) []Problem {
	var b struct {
		Objects []map[string]json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		return []Problem{{Code: CodeInvalidBundle, Message: "a revocation's bundle is not a STIX bundle: " + err.Error()}}
	}
	var ps []Problem
	revoked := 0
	for i, o := range b.Objects {
		switch {
		case str(o["type"]) == "marking-definition":
		case string(o["revoked"]) == "true":
			revoked++
		default:
			ps = append(ps, Problem{Code: CodeInvalidField, ObjectID: str(o["id"]), Path: fmt.Sprintf("/objects/%d/revoked", i),
				Message: "a revocation carries only revoked versions (\"revoked\": true) and marking definitions; publish new content as an alert or an amendment (tocsin alert revoke makes the revoked versions)"})
		}
	}
	if revoked == 0 && len(ps) == 0 {
		ps = append(ps, Problem{Code: CodeInvalidField, Path: "/objects",
			Message: "a revocation carries the revoked version of each of the alert's objects, and this one has none; tocsin alert revoke --file <the alert's bundle> makes them"})
	}
	return ps
}
