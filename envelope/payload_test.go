package envelope

import (
	"errors"
	"testing"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
)

func TestPayloadFor(t *testing.T) {
	values := tocsinv1.Kind(0).Descriptor().Values()
	types := map[string]tocsinv1.Kind{}
	for i := range values.Len() {
		kind := tocsinv1.Kind(values.Get(i).Number())
		m, err := PayloadFor(kind)
		if kind == tocsinv1.Kind_KIND_UNSPECIFIED {
			if !errors.Is(err, codes.Err(malformed)) {
				t.Errorf("PayloadFor(%v) = %v, %v; want malformed", kind, m, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("PayloadFor(%v) = %v; every kind needs a payload type", kind, err)
			continue
		}
		name := string(m.ProtoReflect().Descriptor().FullName())
		if prev, dup := types[name]; dup {
			t.Errorf("%v and %v both carry %s", prev, kind, name)
		}
		types[name] = kind
		other, _ := PayloadFor(kind)
		if other == m || proto.Size(m) != 0 {
			t.Errorf("PayloadFor(%v) does not return a fresh empty message", kind)
		}
	}
	if m, err := PayloadFor(999); !errors.Is(err, codes.Err(malformed)) {
		t.Errorf("PayloadFor(999) = %v, %v; want malformed", m, err)
	}
	checks := map[tocsinv1.Kind]proto.Message{
		tocsinv1.Kind_KIND_ALERT:      &tocsinv1.Alert{},
		tocsinv1.Kind_KIND_CAPABILITY: &tocsinv1.AidCapability{},
		tocsinv1.Kind_KIND_OUTCOME:    &tocsinv1.Outcome{},
	}
	for kind, want := range checks {
		if m, _ := PayloadFor(kind); m.ProtoReflect().Type() != want.ProtoReflect().Type() {
			t.Errorf("PayloadFor(%v) = %T, want %T", kind, m, want)
		}
	}
}
