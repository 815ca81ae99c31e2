package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/subjects"
)

func TestRegionSetNamesAndValidation(t *testing.T) {
	s := RegionSet{Region: "west", Regions: []string{"east", "west"}, RegistryRegion: "east"}
	names := strings.Join(s.StreamNames(), " ")
	for _, want := range []string{"INGEST-west", "SECTORS-west", "INBOX-west", "REJECTIONS-west", "AID_AUDIT-west", "OPS-west",
		"KV_ROUTED-west", "KV_REACH-west", "KV_DEDUPE-west", "KV_MEMBERS-west"} {
		if !strings.Contains(" "+names+" ", " "+want+" ") {
			t.Errorf("west's set %q lacks %s", names, want)
		}
	}
	if strings.Contains(" "+names+" ", " KV_MEMBERS ") {
		t.Errorf("west's set %q holds the registry, written in east only", names)
	}
	if got := s.RegistryBucket(); got != "MEMBERS-west" {
		t.Errorf("west reads the registry from %q, want its mirror MEMBERS-west", got)
	}
	if got := (RegionSet{Region: "east", Regions: s.Regions, RegistryRegion: "east"}).RegistryBucket(); got != "MEMBERS" {
		t.Errorf("east reads the registry from %q, want MEMBERS", got)
	}
	for _, cfg := range s.StreamConfigs() {
		if cfg.Name == "SECTORS-west" {
			if len(cfg.Subjects) != 1 || cfg.Subjects[0] != "tocsin.r.west.sector.>" || len(cfg.Sources) != 1 ||
				cfg.Sources[0].Name != "SECTORS-east" || cfg.Sources[0].FilterSubject != "tocsin.r.east.sector.>" {
				t.Errorf("SECTORS-west: subjects %v, sources %+v; want its own and east's own copies", cfg.Subjects, cfg.Sources[0])
			}
		}
		if cfg.Placement == nil || cfg.Placement.Cluster != "west" {
			t.Errorf("%s placed %+v, want in west", cfg.Name, cfg.Placement)
		}
	}
	for _, bad := range []RegionSet{
		{Region: "west", Regions: []string{"west"}, RegistryRegion: "west"},
		{Region: "south", Regions: []string{"east", "west"}, RegistryRegion: "east"},
		{Region: "west", Regions: []string{"east", "west"}, RegistryRegion: "witness"},
	} {
		if err := ProvisionRegion(context.Background(), nil, bad); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("ProvisionRegion(%+v) = %v, want ErrInvalidOptions", bad, err)
		}
	}
}

// publishCopies publishes n copies without message ids (so that a copy
// coming back where it came from would be stored again, not deduplicated).
func publishCopies(ctx context.Context, t *testing.T, js jetstream.JetStream, subject, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := js.Publish(ctx, subject, []byte(id)); err != nil {
			t.Fatalf("publish %s on %s: %v", id, subject, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// streamSettled waits until stream holds exactly want messages and its
// sources have nothing left to bring.
func streamSettled(ctx context.Context, t *testing.T, js jetstream.JetStream, stream string, want uint64) {
	t.Helper()
	testwait.For(t, 60*time.Second, fmt.Sprintf("%s holding %d messages, its sources caught up", stream, want), func() error {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return err
		}
		info := s.CachedInfo()
		for _, src := range info.Sources {
			if src.Lag != 0 || src.Error != nil {
				return fmt.Errorf("source %s: lag %d, error %v", src.Name, src.Lag, src.Error)
			}
		}
		if info.State.Msgs != want {
			return fmt.Errorf("%d messages", info.State.Msgs)
		}
		return nil
	})
}

func has(t *testing.T, got map[string]bool, where string, ids ...[]string) {
	t.Helper()
	for _, l := range ids {
		for _, id := range l {
			if !got[id] {
				t.Fatalf("acknowledged %s missing from %s", id, where)
			}
		}
	}
}

// Two regions each with their own stream set (and the witness): each
// region's copies reach the other's copies stream and come back to none;
// the registry written in a is read in b from its mirror; losing either
// region whole leaves the other taking and keeping its own writes, reading
// the registry and creating consumers; a region back on its data catches
// up on the copies it missed.
func TestRegionStreamSetsSurviveEitherRegionsLoss(t *testing.T) {
	a, sc := startWitnessed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	js := map[string]jetstream.JetStream{}
	_, js["a"] = regionJS(t, a, sc, "a")
	_, js["b"] = regionJS(t, a, sc, "b")
	set := func(r string) RegionSet {
		return RegionSet{Region: r, Regions: []string{"a", "b"}, RegistryRegion: "a"}
	}
	for _, r := range []string{"a", "b"} {
		// The meta leader learns the other regions' peers a moment after
		// the gateways connect ("no suitable peers" until then).
		testwait.For(t, 90*time.Second, "region "+r+"'s stream set provisioned", func() error {
			return ProvisionRegion(ctx, js[r], set(r))
		})
		if err := CheckProvisionedRegion(ctx, js["a"], set(r)); err != nil {
			t.Fatalf("region %s's set: %v", r, err)
		}
	}
	if err := ProvisionRegion(ctx, js["a"], set("b")); err != nil {
		t.Fatalf("provisioning region b's set again, from a: %v", err)
	}

	// The registry, written in a, read in b through its mirror.
	members, err := js["a"].KeyValue(ctx, "MEMBERS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := members.Put(ctx, "st-marys", []byte("admitted in a")); err != nil {
		t.Fatal(err)
	}
	mirror, err := js["b"].KeyValue(ctx, set("b").RegistryBucket())
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "st-marys in b's registry mirror", func() error {
		e, err := mirror.Get(ctx, "st-marys")
		if err != nil {
			return err
		}
		if string(e.Value()) != "admitted in a" {
			return fmt.Errorf("value %q", e.Value())
		}
		return nil
	})

	// Each region's copies reach the other; nothing comes back.
	sector := func(r string) string { return subjects.InRegion(r, subjects.Sector("patient-care", "flash")) }
	copies := map[string][]string{ // every copy routed in each region
		"a": publishCopies(ctx, t, js["a"], sector("a"), "copy-a", 20),
		"b": publishCopies(ctx, t, js["b"], sector("b"), "copy-b", 30),
	}
	inboxA := publishCopies(ctx, t, js["a"], subjects.InRegion("a", subjects.Inbox("st-marys")), "inbox-a", 5)
	for _, r := range []string{"a", "b"} {
		streamSettled(ctx, t, js[r], "SECTORS-"+r, uint64(len(copies["a"])+len(copies["b"])))
		streamSettled(ctx, t, js[r], "INBOX-"+r, uint64(len(inboxA)))
	}
	every := subjects.InRegion(subjects.AnyRegion, subjects.SectorAll("patient-care"))
	has(t, readAll(ctx, t, js["b"], "SECTORS-b", every, len(copies["a"])+len(copies["b"])), "SECTORS-b", copies["a"], copies["b"])
	has(t, readAll(ctx, t, js["b"], "INBOX-b", subjects.InRegion(subjects.AnyRegion, subjects.Inbox("st-marys")), len(inboxA)), "INBOX-b", inboxA)

	for _, lost := range []string{"a", "b"} {
		kept := map[string]string{"a": "b", "b": "a"}[lost]
		ingest := publishAcked(ctx, t, js[kept], subjects.InRegion(kept, subjects.Ingest(subjects.KindAlert, "st-marys")), "ingest-"+kept+"-before-"+lost, 20)
		before := publishAcked(ctx, t, js[kept], sector(kept), "copy-"+kept+"-before-"+lost, 20)
		sc.StopRegion(lost)
		if err := sc.WaitMeta(ctx); err != nil {
			t.Fatalf("meta group without region %s: %v", lost, err)
		}
		// The kept region takes writes and keeps every one it acknowledged.
		after := publishAcked(ctx, t, js[kept], sector(kept), "copy-"+kept+"-after-"+lost, 20)
		ingest = append(ingest, publishAcked(ctx, t, js[kept], subjects.InRegion(kept, subjects.Ingest(subjects.KindAlert, "st-marys")), "ingest-"+kept+"-after-"+lost, 20)...)
		has(t, readAll(ctx, t, js[kept], "INGEST-"+kept, subjects.InRegion(kept, subjects.IngestAll), len(ingest)), "INGEST-"+kept, ingest)
		copies[kept] = append(copies[kept], append(before, after...)...)
		has(t, readAll(ctx, t, js[kept], "SECTORS-"+kept, subjects.InRegion(kept, subjects.SectorsAll), len(copies[kept])), "SECTORS-"+kept, copies[kept])
		// Its members' consumers can be created, and its registry read.
		testwait.For(t, 60*time.Second, "a member's consumer created in region "+kept, func() error {
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			_, err := js[kept].CreateOrUpdateConsumer(cctx, "SECTORS-"+kept, jetstream.ConsumerConfig{Durable: "st-marys-patient-care-" + kept,
				FilterSubject: every, AckPolicy: jetstream.AckExplicitPolicy})
			return err
		})
		reg, err := js[kept].KeyValue(ctx, set(kept).RegistryBucket())
		if err != nil {
			t.Fatalf("open region %s's registry without region %s: %v", kept, lost, err)
		}
		if e, err := reg.Get(ctx, "st-marys"); err != nil || string(e.Value()) != "admitted in a" {
			t.Fatalf("st-marys in region %s's registry without region %s: %v", kept, lost, err)
		}

		// The lost region back on its data: it takes writes again and
		// catches up on the copies it missed.
		if err := sc.RestartRegion(lost); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, 2*time.Minute, "region "+lost+"'s copies stream taking writes again", func() error {
			pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
			defer pcancel()
			_, err := js[lost].Publish(pctx, sector(lost), []byte("back-"+lost), jetstream.WithMsgID("back-"+lost))
			return err
		})
		copies[lost] = append(copies[lost], "back-"+lost)
		has(t, readAll(ctx, t, js[lost], "SECTORS-"+lost, subjects.InRegion(kept, subjects.SectorsAll), len(copies[kept])),
			"SECTORS-"+lost+" after its return", copies[kept])
		if err := sc.WaitMeta(ctx); err != nil {
			t.Fatalf("meta group with region %s back: %v", lost, err)
		}
	}
}
