package members

import (
	"context"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// TestChangedSince: the records written after a revision are exactly the
// changed ones; a revision past the current one, or before a deletion,
// cannot be answered with changes.
func TestChangedSince(t *testing.T) {
	c := startTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := connectJS(t, c.ClientURL())
	r := openRegistry(ctx, t, js)
	demo, err := DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seed(ctx, demo); err != nil {
		t.Fatal(err)
	}
	var all []*tocsinv1.Member
	var rev uint64
	testwait.Until(ctx, t, "the cache to hold the seed", func() error {
		var ok bool
		if all, rev, ok = r.Snapshot(); !ok || len(all) != len(demo) {
			return context.DeadlineExceeded
		}
		return nil
	})
	if _, _, ok := r.ChangedSince(0); ok {
		t.Fatal("changes since revision 0: want a full listing")
	}
	if ch, now, ok := r.ChangedSince(rev); !ok || len(ch) != 0 || now != rev {
		t.Fatalf("changes since the current revision: %d records, rev %d (ok %v), want none at %d", len(ch), now, ok, rev)
	}
	if _, err := r.Revoke(ctx, "riverside", time.Now()); err != nil {
		t.Fatal(err)
	}
	var ch []*tocsinv1.Member
	testwait.Until(ctx, t, "the revocation in the cache", func() error {
		var ok bool
		if ch, _, ok = r.ChangedSince(rev); !ok || len(ch) != 1 {
			return context.DeadlineExceeded
		}
		return nil
	})
	if ch[0].GetId() != "riverside" || ch[0].GetRevokedAt() == nil {
		t.Fatalf("changes after the revocation: %v", ch[0])
	}
	if _, _, ok := r.ChangedSince(rev + 1000); ok {
		t.Fatal("changes since a revision past the current one (a re-created bucket): want a full listing")
	}
	kv, err := js.KeyValue(ctx, records.BucketMembers)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "hilltop"); err != nil {
		t.Fatal(err)
	}
	testwait.Until(ctx, t, "the delete in the cache", func() error {
		if _, err := r.Member(ctx, "hilltop"); err == nil {
			return context.DeadlineExceeded
		}
		return nil
	})
	if _, _, ok := r.ChangedSince(rev); ok {
		t.Fatal("changes since before a deletion: want a full listing")
	}
}
