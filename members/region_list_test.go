package members_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/regiontest"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/members"
)

// An admin's list of the registry asked in a region that holds only a
// mirror of it reads every member: nats-server gives the mirror
// mirror_direct and answers a direct get in the asker's region first, and
// the mirror holds the records under its own subjects, so a batch direct
// get of MEMBERS answered there finds none. Admitting a member there then
// refused its push ("no active admin would be left").
func TestAListAskedInTheMirrorsRegionReadsEveryMember(t *testing.T) {
	w := regiontest.Start(t, regiontest.Options{Regions: []broker.RegionSpec{{Name: "a", Nodes: 1}, {Name: "b", Nodes: 1}}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := zaptest.NewLogger(t)
	inA, err := members.OpenUncached(ctx, w.JS("a"), members.DefaultVocabulary(), log)
	if err != nil {
		t.Fatal(err)
	}
	demo, err := members.DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inA.Seed(ctx, demo); err != nil {
		t.Fatal(err)
	}
	inB, err := members.OpenUncached(ctx, w.JS("b"), members.DefaultVocabulary(), log)
	if err != nil {
		t.Fatal(err)
	}
	mirror := "KV_" + w.Sets["b"].RegistryBucket()
	testwait.For(t, time.Minute, "b's mirror of the registry caught up", func() error {
		s, err := w.JS("b").Stream(ctx, mirror)
		if err != nil {
			return err
		}
		if got := s.CachedInfo().State.Msgs; got != uint64(len(demo)) {
			return fmt.Errorf("%d records, want %d", got, len(demo))
		}
		return nil
	})
	for range 3 {
		all, err := inB.List(ctx)
		if err != nil || len(all) != len(demo) {
			t.Fatalf("the registry listed in b: %d members, %v; want the %d a holds", len(all), err, len(demo))
		}
	}
}
