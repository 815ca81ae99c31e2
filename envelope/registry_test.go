package envelope

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// memRegistry is an in-memory Registry for tests.
type memRegistry struct {
	mu      sync.Mutex
	members map[string]*tocsinv1.Member
	// fail, when set, is returned for every lookup.
	fail error
}

// newRegistry returns a registry holding members.
func newRegistry(members ...*tocsinv1.Member) *memRegistry {
	r := &memRegistry{members: map[string]*tocsinv1.Member{}}
	for _, m := range members {
		r.members[m.Id] = m
	}
	return r
}

// Member implements Registry.
func (r *memRegistry) Member(_ context.Context, id string) (*tocsinv1.Member, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	m, ok := r.members[id]
	if !ok {
		return nil, fmt.Errorf("registry: %q: %w", id, ErrUnknownMember)
	}
	return proto.CloneOf(m), nil
}

// t0 is the fixed time test envelopes are sealed at.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 5, time.UTC)

// testKey returns the user key pair derived from a seed of n repeated bytes.
func testKey(tb testing.TB, n byte) nkeys.KeyPair {
	tb.Helper()
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, bytes.Repeat([]byte{n}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

// testSigner returns a Signer for sender with the key of seed byte n.
func testSigner(tb testing.TB, sender string, n byte) *Signer {
	tb.Helper()
	s, err := NewSigner(sender, testKey(tb, n))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// key returns a registry key entry for s valid in [from, to); a zero time
// leaves that bound unset.
func key(s *Signer, from, to time.Time) *tocsinv1.SigningKey {
	k := &tocsinv1.SigningKey{PublicKey: s.KeyID()}
	if !from.IsZero() {
		k.NotBefore = timestamppb.New(from)
	}
	if !to.IsZero() {
		k.NotAfter = timestamppb.New(to)
	}
	return k
}

// member returns a member record with the given keys and role.
func member(id string, role tocsinv1.Role, keys ...*tocsinv1.SigningKey) *tocsinv1.Member {
	return &tocsinv1.Member{Id: id, Name: id, Roles: []tocsinv1.Role{role}, Keys: keys, Sectors: []string{"patient-care"}}
}

// testAlert is the payload test envelopes carry.
func testAlert() *tocsinv1.Alert {
	return &tocsinv1.Alert{Title: "ransomware at st-mary", Lane: tocsinv1.Lane_LANE_FLASH, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: []byte(`{"type":"bundle"}`)}
}

// seal seals testAlert as s at t0 with a fixed id, failing the test on error.
func seal(tb testing.TB, s *Signer, opts ...SealOption) *tocsinv1.Envelope {
	tb.Helper()
	opts = append([]SealOption{WithID("01JGR8Z4S00000000000000000"), WithTime(t0)}, opts...)
	env, err := s.Seal(tocsinv1.Kind_KIND_ALERT, testAlert(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}
