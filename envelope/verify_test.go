package envelope

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// world is the registry and signers the verification tests share.
type world struct {
	reg                          *memRegistry
	mary, lukeOld, lukeNew       *Signer
	revoked, stranger, maryStray *Signer
	relay, fakeRelay, deadRelay  *Signer
}

// newWorld builds the test members:
//   - st-mary: one key, valid since a year before t0;
//   - st-luke: key 2 until t0+1h, then key 3 (a rotation);
//   - old-clinic: revoked;
//   - tocsin-node: a service that relays; member-node: a member, not a
//     service, holding a key; dead-node: a revoked service.
func newWorld(t testing.TB) *world {
	w := &world{
		mary:      testSigner(t, "st-mary", 1),
		lukeOld:   testSigner(t, "st-luke", 2),
		lukeNew:   testSigner(t, "st-luke", 3),
		revoked:   testSigner(t, "old-clinic", 4),
		stranger:  testSigner(t, "nobody", 5),
		maryStray: testSigner(t, "st-mary", 6),
		relay:     testSigner(t, "tocsin-node", 7),
		fakeRelay: testSigner(t, "member-node", 8),
		deadRelay: testSigner(t, "dead-node", 9),
	}
	year := 365 * 24 * time.Hour
	rotation := t0.Add(time.Hour)
	old := member("old-clinic", tocsinv1.Role_ROLE_MEMBER, key(w.revoked, t0.Add(-year), time.Time{}))
	old.RevokedAt = timestamppb.New(t0.Add(time.Hour))
	dead := member("dead-node", tocsinv1.Role_ROLE_SERVICE, key(w.deadRelay, time.Time{}, time.Time{}))
	dead.RevokedAt = timestamppb.New(t0)
	w.reg = newRegistry(
		member("st-mary", tocsinv1.Role_ROLE_MEMBER, key(w.mary, t0.Add(-year), time.Time{})),
		member("st-luke", tocsinv1.Role_ROLE_MEMBER, key(w.lukeOld, t0.Add(-year), rotation), key(w.lukeNew, rotation, time.Time{})),
		old,
		member("tocsin-node", tocsinv1.Role_ROLE_SERVICE, key(w.relay, time.Time{}, time.Time{})),
		member("member-node", tocsinv1.Role_ROLE_MEMBER, key(w.fakeRelay, time.Time{}, time.Time{})),
		dead,
	)
	return w
}

// relayed seals testAlert for st-mary through relay s.
func relayed(tb testing.TB, s *Signer) *tocsinv1.Envelope {
	return seal(tb, s, WithVia("taxii"), OnBehalfOf("st-mary"))
}

func TestVerify(t *testing.T) {
	w := newWorld(t)
	relays := VerifyOptions{Relays: []string{"member-node", "dead-node", "tocsin-node"}}
	const ok = tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED
	tests := []struct {
		name string
		env  func() *tocsinv1.Envelope
		opts VerifyOptions
		want tocsinv1.RejectionCode
	}{
		{"round trip", func() *tocsinv1.Envelope { return seal(t, w.mary) }, VerifyOptions{}, ok},
		{"via, own key", func() *tocsinv1.Envelope { return seal(t, w.mary, WithVia("cli")) }, VerifyOptions{}, ok},
		{"tampered payload", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Payload[len(env.Payload)-1] ^= 1
			return env
		}, VerifyOptions{}, badSignature},
		{"changed kind", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Kind = tocsinv1.Kind_KIND_ADVISORY
			return env
		}, VerifyOptions{}, badSignature},
		{"changed id", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Id = NewID()
			return env
		}, VerifyOptions{}, badSignature},
		{"changed time", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Time.Nanos++
			return env
		}, VerifyOptions{}, badSignature},
		{"added via", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Via = "taxii"
			return env
		}, VerifyOptions{}, badSignature},
		{"changed via", func() *tocsinv1.Envelope {
			env := seal(t, w.mary, WithVia("taxii"))
			env.Via = "cli"
			return env
		}, VerifyOptions{}, badSignature},
		{"truncated signature", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Signature = env.Signature[:63]
			return env
		}, VerifyOptions{}, badSignature},
		{"signature of another envelope", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Signature = seal(t, w.mary, WithVia("x")).Signature
			return env
		}, VerifyOptions{}, badSignature},
		{"missing signature", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Signature = nil
			return env
		}, VerifyOptions{}, malformed},
		{"swapped sender", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Sender = "st-luke"
			return env
		}, VerifyOptions{}, unknownKey},
		{"swapped key id", func() *tocsinv1.Envelope {
			env := seal(t, w.lukeOld)
			env.KeyId = w.lukeNew.KeyID()
			env.Time = timestamppb.New(t0.Add(2 * time.Hour))
			return env
		}, VerifyOptions{}, badSignature},
		{"unregistered key", func() *tocsinv1.Envelope { return seal(t, w.maryStray) }, VerifyOptions{}, unknownKey},
		{"unknown sender", func() *tocsinv1.Envelope { return seal(t, w.stranger) }, VerifyOptions{}, unknownSender},
		{"revoked sender, sent before", func() *tocsinv1.Envelope { return seal(t, w.revoked) }, VerifyOptions{}, senderRevoked},
		{"old key before rotation", func() *tocsinv1.Envelope { return seal(t, w.lukeOld) }, VerifyOptions{}, ok},
		{"old key after rotation", func() *tocsinv1.Envelope {
			return seal(t, w.lukeOld, WithTime(t0.Add(2*time.Hour)))
		}, VerifyOptions{}, keyNotValid},
		{"old key at its not_after", func() *tocsinv1.Envelope {
			return seal(t, w.lukeOld, WithTime(t0.Add(time.Hour)))
		}, VerifyOptions{}, keyNotValid},
		{"new key before its not_before", func() *tocsinv1.Envelope { return seal(t, w.lukeNew) }, VerifyOptions{}, keyNotValid},
		{"new key after rotation", func() *tocsinv1.Envelope {
			return seal(t, w.lukeNew, WithTime(t0.Add(time.Hour)))
		}, VerifyOptions{}, ok},
		{"key before its not_before", func() *tocsinv1.Envelope {
			return seal(t, w.mary, WithTime(t0.Add(-2*365*24*time.Hour)))
		}, VerifyOptions{}, keyNotValid},
		{"relayed", func() *tocsinv1.Envelope { return relayed(t, w.relay) }, relays, ok},
		{"relayed, relays not configured", func() *tocsinv1.Envelope { return relayed(t, w.relay) }, VerifyOptions{}, unknownKey},
		{"relayed by a non-service", func() *tocsinv1.Envelope { return relayed(t, w.fakeRelay) }, relays, unknownKey},
		{"relayed by a revoked service", func() *tocsinv1.Envelope { return relayed(t, w.deadRelay) }, relays, senderRevoked},
		{"relayed, via stripped", func() *tocsinv1.Envelope {
			env := relayed(t, w.relay)
			env.Via = ""
			return env
		}, relays, unknownKey},
		{"relayed, sender swapped", func() *tocsinv1.Envelope {
			env := relayed(t, w.relay)
			env.Sender = "st-luke"
			return env
		}, relays, badSignature},
		{"relay lists an unknown member", func() *tocsinv1.Envelope { return relayed(t, w.relay) },
			VerifyOptions{Relays: []string{"gone", "tocsin-node"}}, ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env()
			got, err := NewVerifier(w.reg, tt.opts).Verify(context.Background(), env)
			if tt.want == ok {
				if err != nil {
					t.Fatalf("Verify() = %v, want success", err)
				}
				if got.GetId() != env.Sender {
					t.Errorf("Verify() returned member %q, want the sender %q", got.GetId(), env.Sender)
				}
				return
			}
			if !errors.Is(err, codes.Err(tt.want)) {
				t.Fatalf("Verify() = %v, want %s", err, codes.Name(tt.want))
			}
			if got != nil {
				t.Errorf("Verify() returned member %v with an error", got)
			}
		})
	}
}

func TestVerifyRegistryFailure(t *testing.T) {
	down := errors.New("kv: no responders")
	tests := []struct {
		name    string
		corrupt func(w *world)
		want    string
	}{
		{"lookup fails", func(w *world) { w.reg.fail = down }, down.Error()},
		{"wrong record", func(w *world) { w.reg.members["st-mary"] = w.reg.members["st-luke"] }, "returned st-luke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			env := seal(t, w.mary)
			tt.corrupt(w)
			_, err := NewVerifier(w.reg, VerifyOptions{}).Verify(context.Background(), env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify() = %v, want an error containing %q", err, tt.want)
			}
			var coded *codes.Error
			if errors.As(err, &coded) {
				t.Errorf("Verify() = %v: a registry failure must not become a rejection", err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	w := newWorld(t)
	v := NewVerifier(w.reg, VerifyOptions{})
	garbage := seal(t, w.mary)
	garbage.Payload = []byte{0xff, 0xff, 0xff}
	if err := w.mary.Sign(garbage); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  *tocsinv1.Envelope
		into proto.Message
		want tocsinv1.RejectionCode
	}{
		{"alert", seal(t, w.mary), &tocsinv1.Alert{}, 0},
		{"into an old value", seal(t, w.mary), &tocsinv1.Alert{Contact: "stale"}, 0},
		{"wrong type", seal(t, w.mary), &tocsinv1.Receipt{}, malformed},
		{"nil into", seal(t, w.mary), nil, malformed},
		{"payload does not decode", garbage, &tocsinv1.Alert{}, malformed},
		{"bad signature first", func() *tocsinv1.Envelope {
			env := seal(t, w.mary)
			env.Id = "other"
			return env
		}(), &tocsinv1.Receipt{}, badSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := v.Open(context.Background(), tt.env, tt.into)
			if tt.want != 0 {
				if !errors.Is(err, codes.Err(tt.want)) {
					t.Fatalf("Open() = %v, want %s", err, codes.Name(tt.want))
				}
				return
			}
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			if m.GetId() != "st-mary" || !proto.Equal(tt.into, testAlert()) {
				t.Errorf("Open() = %v, %v; want st-mary, %v", m.GetId(), tt.into, testAlert())
			}
		})
	}
}
