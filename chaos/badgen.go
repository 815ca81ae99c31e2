package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/internal/worstcase"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// generator makes the next piece of bad input of one class; nil skips.
type generator func(ctx context.Context) (*badMsg, error)

// generators lists every class of bad input, in the order they are sent.
func (c *campaign) generators() []generator {
	gens := []generator{
		c.truncated, c.randomBytes, c.randomProtobuf, c.empty, c.oversized,
		c.deepJSON, c.deepObjects, c.hugeArray, c.invalidUTF8Title, c.invalidUTF8Bundle,
		c.badSignature, c.foreignKey, c.stolenKey, c.unknownTLP, c.unknownLane, c.clockSkew,
		c.wrongKind, c.slowPatternLong, c.slowPatternDeep, c.slowPatternHuge, c.replay,
	}
	for _, shape := range worstcase.Shapes() {
		gens = append(gens, c.poison(shape))
	}
	return gens
}

// poison is an alert carrying one of the worst cases to refuse (issue 16:
// thousands of problems, problems that quote much of the bundle, the
// deepest nesting and the largest pattern accepted): each must be
// rejected, with a rejection that fits, never retried.
func (c *campaign) poison(shape worstcase.Shape) generator {
	return func(context.Context) (*badMsg, error) { return c.withBundle(shape.Name, shape.Bundle) }
}

// validAlert is a legitimate-looking green alert to patient-care with a
// unique indicator, the base most classes spoil.
func (c *campaign) validAlert() *tocsinv1.Alert {
	a, _ := buildAlert(Spec{TLP: "green", Lane: "routine", Sectors: []string{"patient-care"}}, c.w.run, fuzzerID+"-bad", c.rng.IntN(1<<30))
	return a
}

// rejectedAlert seals a and expects it rejected.
func (c *campaign) rejectedAlert(class string, a *tocsinv1.Alert, opts ...envelope.SealOption) (*badMsg, error) {
	data, id, err := c.sealAlert(a, opts...)
	if err != nil {
		return nil, err
	}
	return &badMsg{class: class, data: data, msgID: id, envID: id, expect: expectRejected}, nil
}

// withBundle is a valid alert carrying bundle.
func (c *campaign) withBundle(class string, bundle []byte) (*badMsg, error) {
	a := c.validAlert()
	a.StixBundle = bundle
	return c.rejectedAlert(class, a)
}

func (c *campaign) truncated(context.Context) (*badMsg, error) {
	data, _, err := c.sealAlert(c.validAlert())
	if err != nil {
		return nil, err
	}
	cut := 1 + c.rng.IntN(len(data)-1)
	return predict(&badMsg{class: "truncated-protobuf", data: data[:cut], msgID: envelope.NewID(), expect: expectRejected}), nil
}

func (c *campaign) randomBytes(context.Context) (*badMsg, error) {
	b := make([]byte, 1+c.rng.IntN(4096))
	for i := range b {
		b[i] = byte(c.rng.Uint32())
	}
	return predict(&badMsg{class: "random-bytes", data: b, msgID: envelope.NewID(), expect: expectRejected}), nil
}

// randomProtobuf is well-formed protobuf (random field numbers and wire
// types, valid lengths) that is no Envelope.
func (c *campaign) randomProtobuf(context.Context) (*badMsg, error) {
	var b []byte
	for range 1 + c.rng.IntN(40) {
		num := protowire.Number(1 + c.rng.IntN(2000))
		switch c.rng.IntN(4) {
		case 0:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, c.rng.Uint64())
		case 1:
			b = protowire.AppendTag(b, num, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, c.rng.Uint64())
		case 2:
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, c.rng.Uint32())
		default:
			v := make([]byte, c.rng.IntN(64))
			for i := range v {
				v[i] = byte(c.rng.Uint32())
			}
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, v)
		}
	}
	return predict(&badMsg{class: "random-protobuf", data: b, msgID: envelope.NewID(), expect: expectRejected}), nil
}

func (c *campaign) empty(context.Context) (*badMsg, error) {
	return predict(&badMsg{class: "empty", data: []byte{}, msgID: envelope.NewID(), expect: expectRejected}), nil
}

// oversized is larger than the cluster's max payload (1 MiB): the
// publish itself is refused.
func (c *campaign) oversized(context.Context) (*badMsg, error) {
	a := c.validAlert()
	a.Title = strings.Repeat("x", envelope.DefaultMaxSize+4096)
	data, err := proto.Marshal(a)
	if err != nil {
		return nil, err
	}
	d, id, err := c.sealRaw(data)
	if err != nil {
		return nil, err
	}
	return &badMsg{class: "oversized", data: d, msgID: id, envID: id, expect: expectRefused}, nil
}

// deepJSON nests arrays 20,000 deep in a custom property.
func (c *campaign) deepJSON(context.Context) (*badMsg, error) {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	return c.withBundle("deep-json", c.bundleWith(`"x_deep":`+deep))
}

// deepObjects nests objects 10,000 deep as the bundle's objects.
func (c *campaign) deepObjects(context.Context) (*badMsg, error) {
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	return c.withBundle("deep-json-objects", []byte(fmt.Sprintf(`{"type":"bundle","id":"bundle--%s","objects":[%s]}`, ids.V4(), deep)))
}

// hugeArray is a bundle of 20,000 empty objects, twice the limit.
func (c *campaign) hugeArray(context.Context) (*badMsg, error) {
	objs := strings.TrimSuffix(strings.Repeat("{},", 20000), ",")
	return c.withBundle("huge-array", []byte(fmt.Sprintf(`{"type":"bundle","id":"bundle--%s","objects":[%s]}`, ids.V4(), objs)))
}

// invalidUTF8Title is an alert payload whose title is not UTF-8: no
// proto3 string may be.
func (c *campaign) invalidUTF8Title(context.Context) (*badMsg, error) {
	a := c.validAlert()
	a.Title = ""
	data, err := proto.Marshal(a)
	if err != nil {
		return nil, err
	}
	data = protowire.AppendTag(data, 1, protowire.BytesType)
	data = protowire.AppendBytes(data, []byte("chaos \xff\xfe\xc0\x80 title"))
	d, id, err := c.sealRaw(data)
	if err != nil {
		return nil, err
	}
	return &badMsg{class: "invalid-utf8-title", data: d, msgID: id, envID: id, expect: expectRejected}, nil
}

// invalidUTF8Bundle is a bundle whose indicator name holds bytes that are
// not UTF-8: JSON text must be.
func (c *campaign) invalidUTF8Bundle(context.Context) (*badMsg, error) {
	b := string(indicatorBundle(fmt.Sprintf("u%d.%s.chaos.example", c.rng.IntN(1<<30), c.w.run), tlp.Green))
	b = strings.Replace(b, `"name":"C2 domain `, "\"name\":\"C2 \xff\xfe\xc0\x80 domain ", 1)
	return c.withBundle("invalid-utf8-bundle", []byte(b))
}

func (c *campaign) badSignature(context.Context) (*badMsg, error) {
	env, err := c.pub.c.Signer().Seal(tocsinv1.Kind_KIND_ALERT, c.validAlert())
	if err != nil {
		return nil, err
	}
	env.Signature[c.rng.IntN(len(env.Signature))] ^= 0x20
	data, err := envelope.Marshal(env)
	if err != nil {
		return nil, err
	}
	return &badMsg{class: "bad-signature", data: data, msgID: env.GetId(), envID: env.GetId(), expect: expectRejected}, nil
}

// foreignKey claims the fuzzer as sender but is signed with another
// member's key.
func (c *campaign) foreignKey(context.Context) (*badMsg, error) {
	payload, err := proto.Marshal(c.validAlert())
	if err != nil {
		return nil, err
	}
	env := &tocsinv1.Envelope{Id: envelope.NewID(), Kind: tocsinv1.Kind_KIND_ALERT, Sender: "agt-1", Payload: payload}
	env.Time = nowPB()
	if err := c.forger.Sign(env); err != nil {
		return nil, err
	}
	env.Sender = fuzzerID
	data, err := envelope.Marshal(env)
	if err != nil {
		return nil, err
	}
	return &badMsg{class: "foreign-key", data: data, msgID: env.GetId(), envID: env.GetId(), expect: expectRejected}, nil
}

// stolenKey is pub-1's alert, signed with pub-1's key, sent on the
// fuzzer's ingest subject.
func (c *campaign) stolenKey(context.Context) (*badMsg, error) {
	env, err := c.thief.Seal(tocsinv1.Kind_KIND_ALERT, c.validAlert())
	if err != nil {
		return nil, err
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return nil, err
	}
	return &badMsg{class: "sender-mismatch", data: data, msgID: env.GetId(), envID: env.GetId(), expect: expectRejected}, nil
}

func (c *campaign) unknownTLP(context.Context) (*badMsg, error) {
	a := c.validAlert()
	a.Tlp = tocsinv1.TLP(42)
	return c.rejectedAlert("unknown-tlp", a)
}

func (c *campaign) unknownLane(context.Context) (*badMsg, error) {
	a := c.validAlert()
	a.Lane = tocsinv1.Lane(99)
	return c.rejectedAlert("unknown-lane", a)
}

func (c *campaign) clockSkew(context.Context) (*badMsg, error) {
	return c.rejectedAlert("clock-skew", c.validAlert(), envelope.WithTime(time.Now().Add(-time.Hour)))
}

// wrongKind is an advisory envelope on the alert ingest subject.
func (c *campaign) wrongKind(context.Context) (*badMsg, error) {
	env, err := c.pub.c.Signer().Seal(tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "not an alert", Lane: tocsinv1.Lane_LANE_URGENT})
	if err != nil {
		return nil, err
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return nil, err
	}
	return &badMsg{class: "wrong-kind", data: data, msgID: env.GetId(), envID: env.GetId(), expect: expectRejected,
		subject: subjects.Ingest(subjects.KindAlert, fuzzerID)}, nil
}

// slowPatternLong is 128 KB of OR'ed comparisons that only fails to parse
// at its very end.
func (c *campaign) slowPatternLong(context.Context) (*badMsg, error) {
	var b strings.Builder
	for b.Len() < 128<<10 {
		fmt.Fprintf(&b, "[domain-name:value = 'a%d.example'] OR ", b.Len())
	}
	b.WriteString("[domain-name:value = ")
	return c.withBundle("slow-pattern-long", c.bundleWithPattern(b.String()))
}

// slowPatternDeep nests parentheses 20,000 deep.
func (c *campaign) slowPatternDeep(context.Context) (*badMsg, error) {
	p := strings.Repeat("(", 20000) + "[domain-name:value = 'a.example']" + strings.Repeat(")", 20000)
	return c.withBundle("slow-pattern-deep", c.bundleWithPattern(p))
}

// slowPatternHuge is one comparison with a 260 KB string: longer than any
// pattern may be (256 KB).
func (c *campaign) slowPatternHuge(context.Context) (*badMsg, error) {
	p := "[domain-name:value = '" + strings.Repeat("a", 260<<10) + "']"
	return c.withBundle("slow-pattern-huge", c.bundleWithPattern(p))
}

// replay publishes a legitimate alert of the fuzzer, waits for it to be
// routed, and sends it again twice: with the same message id (JetStream
// drops it) and with a new one (the router must drop it).
func (c *campaign) replay(ctx context.Context) (*badMsg, error) {
	orig, err := c.pub.publish(ctx, Spec{TLP: "green", Lane: "urgent", Sectors: []string{"patient-care"}}, giveUp)
	if err != nil || !orig.acked {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	o, err := c.w.fuzz.WaitOutcome(wctx, orig.id)
	cancel()
	if err != nil || o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		return nil, nil // not routed yet: the checker judges the original
	}
	c.send(ctx, -1, &badMsg{class: "replay-same-msgid", data: orig.data, msgID: orig.id, envID: orig.id, expect: expectDropped, replayOf: orig.id})
	return &badMsg{class: "replay-new-msgid", data: orig.data, msgID: envelope.NewID(), envID: orig.id, expect: expectDropped, replayOf: orig.id}, nil
}

// bundleWith is a bundle of one valid indicator with extra JSON members.
func (c *campaign) bundleWith(extra string) []byte {
	b := indicatorBundle(fmt.Sprintf("d%d.%s.chaos.example", c.rng.IntN(1<<30), c.w.run), tlp.Green)
	s := string(b)
	i := strings.Index(s, `"type":"indicator"`)
	return []byte(s[:i] + extra + "," + s[i:])
}

// bundleWithPattern is a bundle of one indicator with pattern p.
func (c *campaign) bundleWithPattern(p string) []byte {
	var v map[string]any
	_ = json.Unmarshal(indicatorBundle("p.chaos.example", tlp.Green), &v)
	v["objects"].([]any)[0].(map[string]any)["pattern"] = p
	out, _ := json.Marshal(v)
	return out
}

func nowPB() *timestamppb.Timestamp { return timestamppb.Now() }
