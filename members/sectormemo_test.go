package members

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestIDsInSectorsFollowsTheCache: the remembered answers change with
// every change the watcher applies, and a member created in the future
// joins the answer when its time comes, with no change to the bucket.
func TestIDsInSectorsFollowsTheCache(t *testing.T) {
	c := startTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reader := openRegistry(ctx, t, connectJS(t, c.Node(0).ClientURL()))
	writer := openRegistry(ctx, t, connectJS(t, c.Node(2).ClientURL()))
	want := func(sectors []string, ids ...string) {
		t.Helper()
		testwait.For(t, 5*time.Second, fmt.Sprintf("IDsInSectors(%v) from the cache", sectors), func() error {
			if got := reader.IDsInSectors(sectors); !slices.Equal(got, ids) {
				return fmt.Errorf("IDsInSectors(%v) = %v, want %v", sectors, got, ids)
			}
			return nil
		})
	}
	health := []string{"health-it"}
	want(health)
	if err := writer.Add(ctx, responder(t, "ir-firm")); err != nil {
		t.Fatal(err)
	}
	want(health, "ir-firm")
	want([]string{"pharma", "health-it"}, "ir-firm")
	later := responder(t, "ir-later")
	joins := time.Now().Add(2 * time.Second)
	later.CreatedAt = timestamppb.New(joins)
	if err := writer.Add(ctx, later); err != nil {
		t.Fatal(err)
	}
	// Once the cache has the record, the answer is remembered without it
	// until its creation time, then includes it.
	testwait.For(t, 5*time.Second, "ir-later in the reader's cache", func() error {
		_, err := reader.cachedMember("ir-later")
		return err
	})
	if got := reader.IDsInSectors(health); time.Now().Before(joins) && !slices.Equal(got, []string{"ir-firm"}) {
		t.Errorf("before its creation time: %v", got)
	}
	want(health, "ir-firm", "ir-later")
	if _, err := writer.Revoke(ctx, "ir-firm", time.Time{}); err != nil {
		t.Fatal(err)
	}
	want(health, "ir-later")
	want([]string{"health-it", "pharma"}, "ir-later")
	if got := reader.IDsInSectors(nil); got != nil {
		t.Errorf("IDsInSectors(nil) = %v", got)
	}
}
