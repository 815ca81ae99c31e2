package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/internal/testworld"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestPublishWaitsOutALostQuorum: with two of three nodes down INGEST
// cannot store anything; a publish keeps trying with the same message id
// and succeeds once the nodes are back, stored once.
func TestPublishWaitsOutALostQuorum(t *testing.T) {
	w := testworld.Start(t, []*tocsinv1.Member{testworld.Member("st-mary", tocsinv1.Role_ROLE_MEMBER, "patient-care")})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Options{Servers: w.C.ClientURL(), CredsFile: w.Creds["st-mary"]})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, err := ingested(ctx, w.JS)
	if err != nil {
		t.Fatal(err)
	}
	w.C.StopNode(1)
	w.C.StopNode(2)
	done := make(chan error, 1)
	var env *tocsinv1.Envelope
	go func() {
		var err error
		env, err = c.Publish(ctx, tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_NORMAL, Region: "northeast"})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the publish returned while INGEST had no quorum: %v", err)
	case <-time.After(6 * time.Second): // more than one attempt
	}
	for _, i := range []int{1, 2} {
		if err := w.C.RestartNode(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("publish after the nodes came back: %v", err)
	}
	n, err := ingested(ctx, w.JS)
	if err != nil {
		t.Fatal(err)
	}
	n -= before
	if n != 1 || env.GetId() == "" {
		t.Fatalf("%d messages stored by the publish, want 1", n)
	}
}

// ingested is INGEST's message count, asked until the stream answers.
func ingested(ctx context.Context, js jetstream.JetStream) (int, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		s, err := js.Stream(actx, subjects.StreamIngest)
		cancel()
		if err == nil {
			return int(s.CachedInfo().State.Msgs), nil
		}
		if ctx.Err() != nil {
			return 0, err
		}
	}
}
