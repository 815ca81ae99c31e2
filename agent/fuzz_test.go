package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// FuzzCheck feeds arbitrary bytes (seeded with genuine envelopes) to the
// checker as copies on a sector or inbox subject. Whatever comes in, the
// checker never panics, fails transiently only for an envelope on a
// sector the member is not in (it waits for the directory, which is held
// here, to say so), and returns a record only for an envelope that
// verifies, with a TLP the subject allows.
func FuzzCheck(f *testing.F) {
	c, seal, stMary, svc := fixtureChecker(f)
	green := alert("green", "patient-care")
	red := alert("red", "patient-care")
	red.Tlp, red.Recipients, red.StixBundle = tocsinv1.TLP_TLP_RED, []string{"riverside"}, benchBundle("c2.example", tlp.MarkingRed)
	f.Add(seal(stMary, tocsinv1.Kind_KIND_ALERT, green), uint8(0))
	f.Add(seal(stMary, tocsinv1.Kind_KIND_ALERT, red), uint8(1))
	f.Add(seal(stMary, tocsinv1.Kind_KIND_ALERT, red), uint8(0))
	f.Add(seal(svc, tocsinv1.Kind_KIND_SIGHTING_SUMMARY, &tocsinv1.SightingSummary{Sector: "patient-care", Organisations: 3}), uint8(2))
	f.Add([]byte("garbage"), uint8(0))
	f.Add([]byte("0"), uint8(3)) // no envelope, on a sector riverside is not in: refused, not retried
	subjectsOf := []string{subjects.Sector("patient-care", "routine"), subjects.Inbox("riverside"), subjects.Sector("patient-care", "info"),
		subjects.Sector("pharma", "routine"), "tocsin.other"}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		subject := subjectsOf[int(which)%len(subjectsOf)]
		rec, err := c.check(context.Background(), subject, nil, 1, data)
		var rf *refusal
		if err != nil {
			d, _ := parseDestination(subject)
			_, derr := envelope.Decode(data, 0)
			waits := errors.Is(err, records.ErrDirectory) && d.sector != "" && !c.sectors.has(d.sector) && derr == nil
			if (!errors.As(err, &rf) && !waits) || rec != nil {
				t.Fatalf("a failure that is not a refusal: %v", err)
			}
			return
		}
		env, derr := envelope.Decode(data, 0)
		if derr != nil {
			t.Fatalf("a record from bytes that do not decode: %v", derr)
		}
		if _, verr := c.verifier.Verify(context.Background(), env); verr != nil {
			t.Fatalf("a record from an envelope that does not verify: %v", verr)
		}
		if rec.ID != env.GetId() || !rec.Verified {
			t.Fatalf("record %+v of envelope %s", rec, env.GetId())
		}
		if d, _ := parseDestination(subject); d.sector != "" && (rec.TLP == "red" || rec.TLP == "amber+strict") {
			t.Fatalf("a %s record from sector subject %s", rec.TLP, subject)
		}
	})
}

// BenchmarkCheck is what verifying one routed alert costs an agent.
func BenchmarkCheck(b *testing.B) {
	c, seal, stMary, _ := fixtureChecker(b)
	data := seal(stMary, tocsinv1.Kind_KIND_ALERT, alert("green", "patient-care"))
	subject := subjects.Sector("patient-care", "routine")
	for b.Loop() {
		if _, err := c.check(context.Background(), subject, nil, 1, data); err != nil {
			b.Fatal(err)
		}
	}
}

// fixtureChecker is riverside's checker over a directory held in memory
// (st-mary, riverside, a service), and a sealer.
func fixtureChecker(f testing.TB) (*checker, func(*envelope.Signer, tocsinv1.Kind, proto.Message) []byte, *envelope.Signer, *envelope.Signer) {
	signer := func(id string) *envelope.Signer {
		kp, _ := nkeys.CreateUser()
		s, _ := envelope.NewSigner(id, kp)
		return s
	}
	stMary, svc := signer("st-mary"), signer("svc-a")
	key := func(s *envelope.Signer) []*tocsinv1.SigningKey {
		return []*tocsinv1.SigningKey{{PublicKey: s.KeyID(), NotBefore: timestamppb.New(time.Now().Add(-time.Hour))}}
	}
	dir := newDirectory(nil, "", time.Hour, zap.NewNop())
	dir.minRefresh = 1000 * time.Hour
	dir.fetched = time.Now()
	dir.set([]*tocsinv1.Member{
		{Id: "st-mary", Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}, Keys: key(stMary)},
		{Id: "riverside", Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}},
		{Id: "svc-a", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}, Keys: key(svc)},
	})
	c := &checker{me: "riverside", sectors: newSectorSet([]string{"patient-care"}), dir: dir,
		verifier: envelope.NewVerifier(dir, envelope.VerifyOptions{})}
	seal := func(s *envelope.Signer, kind tocsinv1.Kind, p proto.Message) []byte {
		env, err := s.Seal(kind, p)
		if err != nil {
			f.Fatal(err)
		}
		data, _ := proto.Marshal(env)
		return data
	}
	return c, seal, stMary, svc
}
