package server

import (
	"context"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/records"
)

// A dead letter in the cluster is counted in the status every node gives
// (and so in `tocsin status`), once however many nodes answer.
func TestStatusCountsDeadLetters(t *testing.T) {
	s := startDev(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.mu.Lock()
	js := s.js
	s.mu.Unlock()
	kv, err := js.KeyValue(ctx, records.BucketDeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, deadletter.Key("router", 42), []byte(`{"consumer":"router","seq":42}`)); err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.DeadLetters != 1 {
		t.Fatalf("status counts %d dead letters, want 1", st.DeadLetters)
	}
	if m := Merge([]*Status{st, {Node: "other", DeadLetters: 1}}); m.DeadLetters != 1 {
		t.Fatalf("merged answers count %d dead letters, want 1", m.DeadLetters)
	}
}
