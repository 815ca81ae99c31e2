package envelope

import (
	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// payloadTypes maps each Kind to the message type its payload holds.
var payloadTypes = map[tocsinv1.Kind]protoreflect.MessageType{
	tocsinv1.Kind_KIND_ALERT:            (*tocsinv1.Alert)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_ADVISORY:         (*tocsinv1.Advisory)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_RECEIPT:          (*tocsinv1.Receipt)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_SIGHTING:         (*tocsinv1.Sighting)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_AID_REQUEST:      (*tocsinv1.AidRequest)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_AID_OFFER:        (*tocsinv1.AidOffer)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_AID_DECISION:     (*tocsinv1.AidDecision)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_STATUS_REPORT:    (*tocsinv1.StatusReport)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_REJECTION:        (*tocsinv1.Rejection)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_MEMBER:           (*tocsinv1.Member)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_SIGHTING_SUMMARY: (*tocsinv1.SightingSummary)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_OUTCOME:          (*tocsinv1.Outcome)(nil).ProtoReflect().Type(),
	tocsinv1.Kind_KIND_CAPABILITY:       (*tocsinv1.AidCapability)(nil).ProtoReflect().Type(),
}

// PayloadFor returns a fresh, empty message of the type an envelope of the
// given kind carries (an *tocsinv1.Alert for KIND_ALERT). An unspecified or
// unknown kind is a MALFORMED *codes.Error.
func PayloadFor(kind tocsinv1.Kind) (proto.Message, error) {
	mt, err := payloadType(kind)
	if err != nil {
		return nil, err
	}
	return mt.New().Interface(), nil
}

// payloadType returns the message type of kind's payload.
func payloadType(kind tocsinv1.Kind) (protoreflect.MessageType, error) {
	mt, ok := payloadTypes[kind]
	if !ok {
		return nil, codes.Errorf(malformed, "kind %v carries no known payload type; use a kind from tocsin.v1 or upgrade tocsin", kind)
	}
	return mt, nil
}

// checkPayloadType returns a MALFORMED error unless m is kind's payload type.
func checkPayloadType(kind tocsinv1.Kind, m proto.Message) error {
	mt, err := payloadType(kind)
	if err != nil {
		return err
	}
	want := mt.Descriptor()
	if m == nil {
		return codes.Errorf(malformed, "no payload for kind %v; pass a *%s", kind, want.Name())
	}
	if got := m.ProtoReflect().Descriptor(); got.FullName() != want.FullName() {
		return codes.Errorf(malformed, "kind %v carries a %s, not a %s", kind, want.FullName(), got.FullName())
	}
	return nil
}
