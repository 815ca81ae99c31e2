package envelope

import (
	"errors"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// encode marshals env without validating it.
func encode(t *testing.T, env *tocsinv1.Envelope) []byte {
	t.Helper()
	data, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecode(t *testing.T) {
	s := testSigner(t, "st-mary", 1)
	good := encode(t, seal(t, s))
	// changed returns the good envelope with one change, encoded.
	changed := func(f func(*tocsinv1.Envelope)) []byte {
		env := seal(t, s)
		f(env)
		return encode(t, env)
	}
	tests := []struct {
		name  string
		data  []byte
		max   int
		want  tocsinv1.RejectionCode
		field string
	}{
		{"good", good, 0, 0, ""},
		{"exactly the limit", good, len(good), 0, ""},
		{"unknown field kept", append(append([]byte{}, good...), 0xf8, 0x01, 0x01), 0, 0, ""},
		{"oversized", good, len(good) - 1, oversized, "limit"},
		{"oversized by default", make([]byte, DefaultMaxSize+1), 0, oversized, "limit"},
		{"empty", nil, 0, malformed, "id"},
		{"garbage", []byte("\xff\xff\xff\xff not protobuf"), 0, malformed, "not a tocsin.v1.Envelope"},
		{"truncated", good[:len(good)-10], 0, malformed, "not a tocsin.v1.Envelope"},
		{"invalid utf-8 in id", append(append([]byte{}, good...), 0x0a, 0x01, 0xff), 0, malformed, "not a tocsin.v1.Envelope"},
		{"no id", changed(func(e *tocsinv1.Envelope) { e.Id = "" }), 0, malformed, "id"},
		{"id with a dot", changed(func(e *tocsinv1.Envelope) { e.Id = "a.b" }), 0, malformed, "id"},
		{"id too long", changed(func(e *tocsinv1.Envelope) { e.Id = strings.Repeat("a", MaxIDLen+1) }), 0, malformed, "id"},
		{"no kind", changed(func(e *tocsinv1.Envelope) { e.Kind = 0 }), 0, malformed, "kind"},
		{"unknown kind", changed(func(e *tocsinv1.Envelope) { e.Kind = 999 }), 0, malformed, "kind"},
		{"no sender", changed(func(e *tocsinv1.Envelope) { e.Sender = "" }), 0, malformed, "sender"},
		{"sender not a member id", changed(func(e *tocsinv1.Envelope) { e.Sender = "St.Mary" }), 0, malformed, "sender"},
		{"no key id", changed(func(e *tocsinv1.Envelope) { e.KeyId = "" }), 0, malformed, "key_id"},
		{"account key id", changed(func(e *tocsinv1.Envelope) {
			e.KeyId = "A" + e.KeyId[1:]
		}), 0, malformed, "key_id"},
		{"no time", changed(func(e *tocsinv1.Envelope) { e.Time = nil }), 0, malformed, "time"},
		{"time out of range", changed(func(e *tocsinv1.Envelope) { e.Time = &timestamppb.Timestamp{Nanos: -1} }), 0, malformed, "time"},
		{"no signature", changed(func(e *tocsinv1.Envelope) { e.Signature = nil }), 0, malformed, "signature"},
		{"bad via", changed(func(e *tocsinv1.Envelope) { e.Via = "ta xii" }), 0, malformed, "via"},
		{"via too long", changed(func(e *tocsinv1.Envelope) { e.Via = strings.Repeat("v", MaxViaLen+1) }), 0, malformed, "via"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Decode(tt.data, tt.max)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("Decode() = %v", err)
				}
				if _, err := Marshal(env); err != nil {
					t.Errorf("Marshal(Decode()) = %v", err)
				}
				return
			}
			if env != nil || !errors.Is(err, codes.Err(tt.want)) {
				t.Fatalf("Decode() = %v, %v; want %s", env, err, codes.Name(tt.want))
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Decode() = %v, want it to name %q", err, tt.field)
			}
		})
	}
}

func TestMarshalValidates(t *testing.T) {
	env := seal(t, testSigner(t, "st-mary", 1))
	env.Sender = ""
	if _, err := Marshal(env); !errors.Is(err, codes.Err(malformed)) {
		t.Errorf("Marshal() of an envelope without sender = %v, want malformed", err)
	}
	if _, err := Marshal(nil); !errors.Is(err, codes.Err(malformed)) {
		t.Errorf("Marshal(nil) = %v, want malformed", err)
	}
}
