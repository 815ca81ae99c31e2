package envelope

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
)

// fuzzMax is the size limit the fuzz targets decode with, small enough for
// the fuzzer to reach OVERSIZED.
const fuzzMax = 4096

// fuzzSeeds returns encoded envelopes signed by the test world's members.
func fuzzSeeds(tb testing.TB, w *world) [][]byte {
	envs := []*tocsinv1.Envelope{
		seal(tb, w.mary),
		seal(tb, w.mary, WithVia("cli")),
		seal(tb, w.lukeOld),
		seal(tb, w.lukeOld, WithTime(t0.Add(2*time.Hour))),
		seal(tb, w.revoked),
		seal(tb, w.stranger),
		relayed(tb, w.relay),
		relayed(tb, w.deadRelay),
	}
	var out [][]byte
	for _, env := range envs {
		data, err := Marshal(env)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// checkCoded fails unless err is a *codes.Error with one of the codes.
func checkCoded(t *testing.T, err error, allowed ...tocsinv1.RejectionCode) {
	t.Helper()
	var coded *codes.Error
	if !errors.As(err, &coded) {
		t.Fatalf("error %v carries no rejection code", err)
	}
	for _, c := range allowed {
		if coded.Code == c {
			return
		}
	}
	t.Fatalf("error %v has an unexpected code", err)
}

func FuzzDecode(f *testing.F) {
	for _, seed := range fuzzSeeds(f, newWorld(f)) {
		f.Add(seed)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x01, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Decode(data, fuzzMax)
		if err != nil {
			checkCoded(t, err, malformed, oversized)
			return
		}
		again, err := Marshal(env)
		if err != nil {
			t.Fatalf("a decoded envelope does not marshal: %v", err)
		}
		back, err := Decode(again, 0)
		if err != nil || !proto.Equal(back, env) {
			t.Fatalf("Decode(Marshal(env)) = %v, %v; want %v", back, err, env)
		}
	})
}

func FuzzVerify(f *testing.F) {
	w := newWorld(f)
	signed := map[[DigestSize]byte]bool{}
	for _, seed := range fuzzSeeds(f, w) {
		f.Add(seed)
		env, err := Decode(seed, 0)
		if err != nil {
			f.Fatal(err)
		}
		signed[Digest(env)] = true
	}
	v := NewVerifier(w.reg, VerifyOptions{Relays: []string{"tocsin-node", "dead-node", "member-node"}})
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Decode(data, fuzzMax)
		if err != nil {
			return
		}
		var alert tocsinv1.Alert
		m, err := v.Open(context.Background(), env, &alert)
		if err != nil {
			checkCoded(t, err, malformed, badSignature, unknownKey, keyNotValid, unknownSender, senderRevoked)
			return
		}
		if !signed[Digest(env)] {
			t.Fatalf("an envelope nobody signed verified: %v", env)
		}
		if m.GetId() != env.Sender {
			t.Fatalf("Open() returned member %s for sender %s", m.GetId(), env.Sender)
		}
	})
}
