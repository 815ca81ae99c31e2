package envelope

import (
	"encoding/hex"
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// vectorEnvelope is the envelope of the test vector in the package docs.
func vectorEnvelope() *tocsinv1.Envelope {
	return &tocsinv1.Envelope{
		Id:      "01J00000000000000000000000",
		Kind:    tocsinv1.Kind_KIND_ALERT,
		Sender:  "st-mary",
		KeyId:   "UCFIRY65OQE7DFP5KLNS2PF2LVZMUZYJX4OZIEQ36N2IQANUB5XVZ45L",
		Time:    &timestamppb.Timestamp{Seconds: 1735689600, Nanos: 5},
		Payload: []byte{0x0a, 0x01, 0x78},
	}
}

func TestDigestVector(t *testing.T) {
	const (
		wantDigest = "85aa20023c08549263cbdf3398c44bda180f9e522ea81b430be64b6f6e3692a4"
		wantSig    = "75623d0b5619fea128233163b761f2db4f3b614b67961db38fbe999731d8c1bd" +
			"60cdab1e6c729cc4b72e96d17c83a4adf80329eed08652d20866b060938fe602"
	)
	env := vectorEnvelope()
	d := Digest(env)
	if got := hex.EncodeToString(d[:]); got != wantDigest {
		t.Fatalf("Digest() = %s, want %s", got, wantDigest)
	}
	s := testSigner(t, "st-mary", 1)
	if s.KeyID() != env.KeyId {
		t.Fatalf("test key is %s, the vector's %s", s.KeyID(), env.KeyId)
	}
	if err := s.Sign(env); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(env.Signature); got != wantSig {
		t.Errorf("signature = %s, want %s", got, wantSig)
	}
	env.Signature = []byte("ignored")
	if Digest(env) != d {
		t.Error("the digest covers the signature field")
	}
}

func TestDigestCoversEveryField(t *testing.T) {
	base := Digest(vectorEnvelope())
	tests := []struct {
		name   string
		change func(*tocsinv1.Envelope)
	}{
		{"id", func(e *tocsinv1.Envelope) { e.Id += "0" }},
		{"kind", func(e *tocsinv1.Envelope) { e.Kind = tocsinv1.Kind_KIND_ADVISORY }},
		{"negative kind", func(e *tocsinv1.Envelope) { e.Kind = -1 }},
		{"sender", func(e *tocsinv1.Envelope) { e.Sender = "st-luke" }},
		{"key id", func(e *tocsinv1.Envelope) { e.KeyId = "U" }},
		{"seconds", func(e *tocsinv1.Envelope) { e.Time.Seconds++ }},
		{"nanos", func(e *tocsinv1.Envelope) { e.Time.Nanos++ }},
		{"zero time", func(e *tocsinv1.Envelope) { e.Time = &timestamppb.Timestamp{} }},
		{"no time", func(e *tocsinv1.Envelope) { e.Time = nil }},
		{"payload", func(e *tocsinv1.Envelope) { e.Payload = append(e.Payload, 0) }},
		{"empty payload", func(e *tocsinv1.Envelope) { e.Payload = nil }},
		{"via", func(e *tocsinv1.Envelope) { e.Via = "taxii" }},
		// Moving bytes from one field to the next must change the digest.
		{"id into sender", func(e *tocsinv1.Envelope) { e.Id, e.Sender = e.Id[:25], e.Id[25:]+e.Sender }},
		{"payload into via", func(e *tocsinv1.Envelope) { e.Payload, e.Via = e.Payload[:2], "x" }},
	}
	seen := map[[DigestSize]byte]string{base: "base"}
	for _, tt := range tests {
		env := vectorEnvelope()
		tt.change(env)
		d := Digest(env)
		if prev, dup := seen[d]; dup {
			t.Errorf("changing %s gives the digest of %s", tt.name, prev)
		}
		seen[d] = tt.name
	}
}
