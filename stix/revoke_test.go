package stix

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/tlp"
)

// revokeInput is a bundle with one of each kind of object Revoke tells
// apart.
func revokeInput(t *testing.T) []byte {
	t.Helper()
	const me, them = "identity--1e6b7b04-2f8e-4c55-a4b0-8b0a4c8a6f01", "identity--9c1f5c3a-0d0e-4a48-9a3b-0f6a2b1d9e02"
	marking := map[string]any{"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--3f5b2c1a-7d4e-4b8a-9c6f-1a2b3c4d5e6f",
		"created": "2026-01-01T00:00:00.000Z", "definition_type": "statement", "definition": map[string]any{"statement": "internal"}}
	objs := []map[string]any{
		{"type": "identity", "spec_version": "2.1", "id": me, "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "St. Mary's SOC", "identity_class": "organization"},
		{"type": "indicator", "spec_version": "2.1", "id": "indicator--4a6f8b1c-2d3e-4f5a-8b7c-9d0e1f2a3b4c", "created_by_ref": me, "created": "2026-01-01T00:00:00.000Z",
			"modified": "2026-01-02T00:00:00.123456Z", "pattern": "[ipv4-addr:value = '192.0.2.1']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
			"object_marking_refs": []string{tlp.MarkingAmber}, "confidence": 85},
		// modified in the future: the revoked version is one millisecond later
		{"type": "malware", "spec_version": "2.1", "id": "malware--5b7a9c2d-3e4f-4a6b-9c8d-0e1f2a3b4c5d", "created": "2026-01-01T00:00:00.000Z",
			"modified": "2999-01-01T00:00:00.000Z", "name": "BlackHarbor", "is_family": true},
		{"type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--6c8b0d3e-4f5a-4b7c-8d9e-1f2a3b4c5d6e", "created_by_ref": them, "created": "2026-01-01T00:00:00.000Z",
			"modified": "2026-01-01T00:00:00.000Z", "name": "Phishing"},
		{"type": "indicator", "spec_version": "2.1", "id": "indicator--7d9c1e4f-5a6b-4c8d-9e0f-2a3b4c5d6e7f", "created_by_ref": me, "created": "2026-01-01T00:00:00.000Z",
			"modified": "2026-01-01T00:00:00.000Z", "revoked": true, "pattern": "[ipv4-addr:value = '192.0.2.2']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"},
		{"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--8e0d2f5a-6b7c-4d9e-8f0a-3b4c5d6e7f80", "value": "192.0.2.1"},
		marking,
	}
	data, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--9f1e3a6b-7c8d-4e0f-9a1b-4c5d6e7f8091", "objects": objs})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Revoke makes the revoked version of each of the creator's own objects
// (same id, created and created_by_ref, other properties kept, a later
// modified) and carries the marking definitions; identities, other
// creators' objects, objects already revoked and cyber-observables are
// left out. The result is a valid bundle, and a revocation.
func TestRevokeVersionsTheCreatorsOwnObjects(t *testing.T) {
	at := time.Date(2026, 12, 7, 8, 0, 0, 123456789, time.UTC)
	out, err := Revoke(revokeInput(t), at)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range b.Objects {
		got = append(got, o["type"].(string))
	}
	if want := []string{"indicator", "malware", "marking-definition"}; !slices.Equal(got, want) {
		t.Fatalf("revoked bundle holds %v, want %v", got, want)
	}
	ind, mal := b.Objects[0], b.Objects[1]
	if ind["modified"] != "2026-12-07T08:00:00.123Z" || ind["revoked"] != true || ind["created_by_ref"] != "identity--1e6b7b04-2f8e-4c55-a4b0-8b0a4c8a6f01" ||
		ind["created"] != "2026-01-01T00:00:00.000Z" || ind["confidence"] != 85.0 || ind["id"] != "indicator--4a6f8b1c-2d3e-4f5a-8b7c-9d0e1f2a3b4c" {
		t.Errorf("revoked indicator: %v", ind)
	}
	if mal["modified"] != "2999-01-01T00:00:00.001Z" || mal["revoked"] != true {
		t.Errorf("revoked malware, modified in the future: %v, want one millisecond later", mal)
	}
	if _, ok := b.Objects[2]["revoked"]; ok {
		t.Errorf("the marking definition was versioned: %v", b.Objects[2])
	}
	if res, err := validator(t).ValidateBundle(out); err != nil || !res.Valid() {
		t.Fatalf("the revoked bundle does not validate: %v %+v", err, res.Problems)
	}
	if ps := RevocationProblems(out); len(ps) != 0 {
		t.Fatalf("Revoke's bundle is no revocation: %+v", ps)
	}
}

func TestRevokeNeedsSomethingToRevoke(t *testing.T) {
	only := []byte(`{"type":"bundle","id":"bundle--9f1e3a6b-7c8d-4e0f-9a1b-4c5d6e7f8091","objects":[{"type":"ipv4-addr","id":"ipv4-addr--8e0d2f5a-6b7c-4d9e-8f0a-3b4c5d6e7f80","value":"192.0.2.1"}]}`)
	if _, err := Revoke(only, time.Now()); !errors.Is(err, ErrNothingToRevoke) {
		t.Fatalf("a bundle of observables only: %v, want ErrNothingToRevoke", err)
	}
	if _, err := Revoke([]byte(`[1]`), time.Now()); err == nil {
		t.Fatal("not a bundle: no error")
	}
}

// A revocation carries only revoked versions and marking definitions, at
// least one revoked version.
func TestRevocationProblems(t *testing.T) {
	if ps := RevocationProblems(revokeInput(t)); len(ps) != 5 || ps[0].Code != CodeInvalidField || ps[0].Path != "/objects/0/revoked" {
		t.Errorf("the unrevoked bundle: %+v, want invalid-field at the identity, an indicator, the malware, the attack-pattern and the observable", ps)
	}
	markings := []byte(`{"type":"bundle","id":"bundle--9f1e3a6b-7c8d-4e0f-9a1b-4c5d6e7f8091","objects":[{"type":"marking-definition","id":"marking-definition--3f5b2c1a-7d4e-4b8a-9c6f-1a2b3c4d5e6f"}]}`)
	if ps := RevocationProblems(markings); len(ps) != 1 || ps[0].Path != "/objects" {
		t.Errorf("markings only: %+v, want one problem at /objects", ps)
	}
}
