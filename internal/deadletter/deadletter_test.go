package deadletter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/internal/testcluster"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// A failure is permanent by what it is, however it is wrapped; the
// cluster's failures are transient.
func TestPermanent(t *testing.T) {
	_, marshal := proto.Marshal(&tocsinv1.Problem{Message: "\xff"})
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("seal rejection: %w", nats.ErrMaxPayload), true},
		{fmt.Errorf("publish: %w", jetstream.ErrStreamMessageExceedsMaximum), true},
		{fmt.Errorf("seal: %w", marshal), true},
		{nats.ErrBadSubject, true},
		{jetstream.ErrInvalidKey, true},
		{fmt.Errorf("record outcome: %w", nats.ErrNoResponders), false},
		{context.DeadlineExceeded, false},
		{jetstream.ErrStreamNotFound, false},
		{nats.ErrConnectionClosed, false},
		{nil, false},
	} {
		if got := Permanent(tt.err); got != tt.want {
			t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// The consumer's BackOff gives every delivery before the decision the ack
// wait (so that a nak's delay is exact) and the dead letters' period
// after it; nats-server accepts it with MaxDeliver -1, on a new durable
// and on one made before the BackOff existed.
func TestPolicyOnTheServer(t *testing.T) {
	p := Policy{AckWait: 10 * time.Second}.WithDefaults()
	b := p.BackOff()
	if p.Decide() != 12 || len(b) != 12 || b[0] != 10*time.Second || b[10] != 10*time.Second || b[11] != DefaultEvery {
		t.Fatalf("decide at %d, BackOff %v", p.Decide(), b)
	}
	var total time.Duration
	for _, d := range p.Retry {
		total += d
	}
	t.Logf("retries: %v, %s in all, then every %s", p.Retry, total, p.Every)

	c := testcluster.Start(t)
	js := testcluster.JetStream(t, c.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := jetstream.ConsumerConfig{Durable: "old-router", FilterSubject: subjects.Ingest(subjects.KindAlert, "*"),
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1}
	if _, err := js.CreateOrUpdateConsumer(ctx, subjects.StreamIngest, old); err != nil {
		t.Fatal(err)
	}
	p.Apply(&old)
	cons, err := js.CreateOrUpdateConsumer(ctx, subjects.StreamIngest, old)
	if err != nil {
		t.Fatalf("update an existing durable with the BackOff: %v", err)
	}
	got := cons.CachedInfo().Config
	if got.MaxDeliver != -1 || got.AckWait != 10*time.Second || len(got.BackOff) != 12 || got.BackOff[11] != DefaultEvery {
		t.Fatalf("updated consumer: MaxDeliver %d, AckWait %s, BackOff %v", got.MaxDeliver, got.AckWait, got.BackOff)
	}
	if ops := OpsSubject("st-mary"); !strings.HasPrefix(ops, subjects.Prefix+".ops.") {
		t.Fatalf("alarm subject %s is not on OPS", ops)
	}
}
