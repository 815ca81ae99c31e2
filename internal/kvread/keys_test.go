package kvread_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/internal/kvread"
)

// TestLastOfKeysReadsTheKeysAsked: 1,500 keys asked (two batches), some
// missing and some deleted: each live one once, with its last value.
func TestLastOfKeysReadsTheKeysAsked(t *testing.T) {
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "R", History: 4})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for i := range 1400 {
			if _, err := kv.Put(ctx, fmt.Sprintf("msg%04d.m1", i), fmt.Appendf(nil, "v%d-%d", i, round)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := kv.Put(ctx, "msg0001.m2", []byte("another member's")); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "msg0002.m1"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 1500 {
		keys = append(keys, fmt.Sprintf("msg%04d.m1", i))
	}
	got, err := kvread.LastOfKeys(ctx, js.Conn(), kvread.APIPrefix(js.Options()), "R", keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1399 {
		t.Fatalf("%d records, want 1399 (1,400 written, one deleted, 100 never written)", len(got))
	}
	for _, e := range got {
		var i int
		if _, err := fmt.Sscanf(e.Key, "msg%04d.m1", &i); err != nil || i == 2 || string(e.Value) != fmt.Sprintf("v%d-1", i) {
			t.Fatalf("record %s = %q", e.Key, e.Value)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b kvread.Entry) int { return int(a.Revision) - int(b.Revision) }) {
		t.Error("not in the bucket's order")
	}
	if got, err := kvread.LastOfKeys(ctx, js.Conn(), kvread.APIPrefix(js.Options()), "R", []string{"nothing.here"}); err != nil || len(got) != 0 {
		t.Fatalf("a key never written: %v %v", got, err)
	}
}

// BenchmarkMemberReceipts reads one member's receipts of 2,000 messages
// from a bucket of 100 members' receipts of them (200,000 keys): by the
// keys, and by the wildcard "*.<member>".
func BenchmarkMemberReceipts(b *testing.B) {
	js := startJetStream(b)
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "REACH", History: 4})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 2000 {
		for m := range 100 {
			if _, err := kv.PutString(ctx, fmt.Sprintf("msg%04d.m%d", i, m), "{}"); err != nil {
				b.Fatal(err)
			}
		}
	}
	var keys []string
	for i := range 2000 {
		keys = append(keys, fmt.Sprintf("msg%04d.m7", i))
	}
	prefix := kvread.APIPrefix(js.Options())
	b.Run("keys", func(b *testing.B) {
		for b.Loop() {
			if got, err := kvread.LastOfKeys(ctx, js.Conn(), prefix, "REACH", keys); err != nil || len(got) != 2000 {
				b.Fatal(len(got), err)
			}
		}
	})
	b.Run("wildcard", func(b *testing.B) {
		for b.Loop() {
			if got, err := kvread.Latest(ctx, js.Conn(), prefix, "REACH", "*.m7"); err != nil || len(got) != 2000 {
				b.Fatal(len(got), err)
			}
		}
	})
}
