package members

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
)

// A Registry is what the envelope verifier looks members up in.
var _ envelope.Registry = (*Registry)(nil)

// ids returns the ids of ms.
func ids(ms []*tocsinv1.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Id
	}
	return out
}

func TestRegistryCRUDAndCompareAndSet(t *testing.T) {
	c := startTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := connectJS(t, c.ClientURL())
	r := openRegistry(ctx, t, js)

	demo, err := DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	added, err := r.Seed(ctx, demo)
	if err != nil || len(added) != len(demo) {
		t.Fatalf("seed: added %d of %d: %v", len(added), len(demo), err)
	}
	if added[0].CreatedAt == nil {
		t.Error("seeded record has no created_at")
	}
	again, err := r.Seed(ctx, demo)
	if err != nil || len(again) != 0 {
		t.Fatalf("second seed added %v (%v), want nothing", ids(again), err)
	}

	t.Run("list sorted by id", func(t *testing.T) {
		all, err := r.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := ids(demo)
		slices.Sort(want)
		if got := ids(all); !slices.Equal(got, want) {
			t.Fatalf("List = %v, want %v", got, want)
		}
	})

	t.Run("add refuses duplicates and invalid records", func(t *testing.T) {
		err := r.Add(ctx, demo[0])
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `member "st-mary"`) {
			t.Errorf("Add(existing) = %v, want ErrExists naming st-mary", err)
		}
		bad := proto.CloneOf(demo[0])
		bad.Id, bad.Sectors = "new-hospital", []string{"hospital"}
		if err := r.Add(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Add(invalid) = %v, want ErrInvalid", err)
		}
		if _, err := r.Get(ctx, "new-hospital"); !errors.Is(err, ErrNotFound) {
			t.Errorf("invalid record was stored: %v", err)
		}
	})

	t.Run("not found matches both sentinels", func(t *testing.T) {
		for _, id := range []string{"nobody", "Not An Id", "a.b", ""} {
			_, err := r.Get(ctx, id)
			_, err2 := r.Member(ctx, id)
			for _, e := range []error{err, err2} {
				if !errors.Is(e, ErrNotFound) || !errors.Is(e, envelope.ErrUnknownMember) || !strings.Contains(e.Error(), fmt.Sprintf("%q", id)) {
					t.Errorf("lookup %q = %v, want ErrNotFound and envelope.ErrUnknownMember naming the id", id, e)
				}
			}
		}
	})

	t.Run("update", func(t *testing.T) {
		kv, err := js.KeyValue(ctx, records.BucketMembers)
		if err != nil {
			t.Fatal(err)
		}
		m, err := r.Update(ctx, "riverside", func(m *tocsinv1.Member) error { m.Contact = "new SOC line"; return nil })
		if err != nil || m.Contact != "new SOC line" {
			t.Fatalf("Update = %v, %v", m, err)
		}
		if got, _ := r.Get(ctx, "riverside"); got.GetContact() != "new SOC line" {
			t.Errorf("Get after Update: %v", got)
		}
		// (The KV's own Get may be answered by a lagging follower: read the
		// revisions from the leader, as the registry does.)
		_, before, _, err := r.readLatest(ctx, "riverside")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Update(ctx, "riverside", func(m *tocsinv1.Member) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if _, after, _, _ := r.readLatest(ctx, "riverside"); after != before {
			t.Errorf("an update that changed nothing wrote revision %d after %d", after, before)
		}
		// Compare-and-set: another writer slips in during the first attempt;
		// Update retries on the fresh record and keeps both changes.
		calls := 0
		m, err = r.Update(ctx, "hilltop", func(m *tocsinv1.Member) error {
			calls++
			if calls == 1 {
				other := proto.CloneOf(m)
				other.Name = "Hilltop Medical Center (renamed)"
				data, _ := encode(other)
				if _, err := kv.Put(ctx, "hilltop", data); err != nil {
					return err
				}
			}
			m.Contact = "after the race"
			return nil
		})
		if err != nil || calls != 2 || m.Name != "Hilltop Medical Center (renamed)" || m.Contact != "after the race" {
			t.Fatalf("Update across a concurrent write: calls %d, record %v, err %v", calls, m, err)
		}
		stop := errors.New("not today")
		if _, err := r.Update(ctx, "hilltop", func(*tocsinv1.Member) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("change error not returned: %v", err)
		}
		if _, err := r.Update(ctx, "hilltop", func(m *tocsinv1.Member) error { m.Id = "hill"; return nil }); !errors.Is(err, ErrInvalid) {
			t.Errorf("id change: %v", err)
		}
		if _, err := r.Update(ctx, "hilltop", func(m *tocsinv1.Member) error { m.Roles = nil; return nil }); !errors.Is(err, ErrInvalid) {
			t.Errorf("invalid change: %v", err)
		}
		if _, err := r.Update(ctx, "nobody", func(*tocsinv1.Member) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Errorf("update of unknown member: %v", err)
		}
	})

	t.Run("rotate key keeps the backlog verifiable", func(t *testing.T) {
		oldKP, _ := nkeys.CreateUser()
		newKP, _ := nkeys.CreateUser()
		oldPub, _ := oldKP.PublicKey()
		newPub, _ := newKP.PublicKey()
		t1 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		t2 := t1.Add(30 * 24 * time.Hour)
		if _, err := r.RotateKey(ctx, "st-mary", oldPub, t1); err != nil {
			t.Fatalf("first key: %v", err)
		}
		m, err := r.RotateKey(ctx, "st-mary", newPub, t2)
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		if len(m.Keys) != 2 || !m.Keys[0].NotAfter.AsTime().Equal(t2) || !m.Keys[1].NotBefore.AsTime().Equal(t2) || m.Keys[1].NotAfter != nil {
			t.Fatalf("keys after rotation: %v", m.Keys)
		}
		if _, err := r.RotateKey(ctx, "st-mary", oldPub, t2.Add(time.Hour)); !errors.Is(err, ErrInvalid) {
			t.Errorf("rotating back to an old key: %v", err)
		}
		other, _ := nkeys.CreateUser()
		otherPub, _ := other.PublicKey()
		if _, err := r.RotateKey(ctx, "st-mary", otherPub, t2); !errors.Is(err, ErrInvalid) {
			t.Errorf("rotation at the current key's start: %v", err)
		}
		if _, err := r.RotateKey(ctx, "st-mary", "SUAXYZ", t2.Add(time.Hour)); !errors.Is(err, ErrInvalid) {
			t.Errorf("rotation to a bad key: %v", err)
		}
		// The envelope verifier, reading through the registry, accepts a
		// message signed with the old key before the rotation, and refuses
		// one signed with it after.
		v := envelope.NewVerifier(r, envelope.VerifyOptions{})
		oldSigner, err := envelope.NewSigner("st-mary", oldKP)
		if err != nil {
			t.Fatal(err)
		}
		alert := &tocsinv1.Alert{Title: "backlog", Lane: tocsinv1.Lane_LANE_ROUTINE, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: []byte(`{"type":"bundle"}`)}
		testwait.For(t, 5*time.Second, "the old key verifying a backlog alert", func() error {
			env, err := oldSigner.Seal(tocsinv1.Kind_KIND_ALERT, alert, envelope.WithTime(t2.Add(-time.Hour)))
			if err != nil {
				return err
			}
			_, err = v.Verify(ctx, env)
			return err
		})
		// The verifier reads the registry's cache, which learns of the
		// rotation a moment later: wait for the refusal, bounded.
		late, err := oldSigner.Seal(tocsinv1.Kind_KIND_ALERT, alert, envelope.WithTime(t2.Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		testwait.For(t, 5*time.Second, "a message signed with the retired key after the rotation refused", func() error {
			if _, err := v.Verify(ctx, late); err == nil {
				return errors.New("it verified")
			}
			return nil
		})
	})

	t.Run("revoke", func(t *testing.T) {
		at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		m, err := r.Revoke(ctx, "valley-general", at)
		if err != nil || !m.RevokedAt.AsTime().Equal(at) {
			t.Fatalf("Revoke = %v, %v", m, err)
		}
		m, err = r.Revoke(ctx, "valley-general", at.Add(time.Hour))
		if err != nil || !m.RevokedAt.AsTime().Equal(at) {
			t.Errorf("second Revoke moved the time: %v, %v", m.GetRevokedAt(), err)
		}
		k, _ := nkeys.CreateUser()
		pub, _ := k.PublicKey()
		if _, err := r.RotateKey(ctx, "valley-general", pub, time.Time{}); !errors.Is(err, ErrRevoked) {
			t.Errorf("key for a revoked member: %v", err)
		}
		if _, err := r.Revoke(ctx, "nobody", at); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
	})

	t.Run("in sectors from the cache", func(t *testing.T) {
		want := []string{"hilltop", "lakeside-childrens", "riverside", "st-mary"} // valley-general is revoked
		testwait.For(t, 5*time.Second, "the cache listing patient-care", func() error {
			if got := ids(r.InSectors([]string{"patient-care"})); !slices.Equal(got, want) {
				return fmt.Errorf("InSectors(patient-care) = %v, want %v", got, want)
			}
			return nil
		})
		got := ids(r.InSectors([]string{"pharma", "federal"}))
		if !slices.Equal(got, []string{"acme-pharma", "hhs-liaison"}) {
			t.Errorf("InSectors(pharma, federal) = %v", got)
		}
		if got := r.InSectors(nil); len(got) != 0 {
			t.Errorf("InSectors(nil) = %v, want none", ids(got))
		}
	})
}

func TestRegistryConcurrentUpdatesLoseNothing(t *testing.T) {
	c := startTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Two registries on connections to different nodes, five writers each.
	regs := []*Registry{
		openRegistry(ctx, t, connectJS(t, c.Node(0).ClientURL())),
		openRegistry(ctx, t, connectJS(t, c.Node(1).ClientURL())),
	}
	if err := regs[0].Add(ctx, responder(t, "ir-firm")); err != nil {
		t.Fatal(err)
	}
	const writers = 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := regs[i%2].Update(ctx, "ir-firm", func(m *tocsinv1.Member) error {
				capa := m.Capabilities[0]
				capa.Capacity++
				capa.Regions = append(capa.Regions, fmt.Sprintf("region-%d", i))
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("update: %v", err)
		}
	}
	m, err := regs[1].Get(ctx, "ir-firm")
	if err != nil {
		t.Fatal(err)
	}
	capa := m.Capabilities[0]
	if capa.Capacity != 4+writers || len(capa.Regions) != 1+writers {
		t.Fatalf("after %d concurrent updates: capacity %d, regions %v; want %d and %d regions", writers, capa.Capacity, capa.Regions, 4+writers, 1+writers)
	}
	for i := range writers {
		if !slices.Contains(capa.Regions, fmt.Sprintf("region-%d", i)) {
			t.Errorf("the change of writer %d was lost: %v", i, capa.Regions)
		}
	}
}

func TestRegistryCacheFollowsChangesFromAnotherConnection(t *testing.T) {
	c := startTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reader := openRegistry(ctx, t, connectJS(t, c.Node(0).ClientURL()))
	writerJS := connectJS(t, c.Node(2).ClientURL())
	writer := openRegistry(ctx, t, writerJS)

	if err := writer.Add(ctx, responder(t, "ir-firm")); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "ir-firm in the reader's cache", func() error {
		_, err := reader.cachedMember("ir-firm")
		return err
	})
	if _, err := writer.Update(ctx, "ir-firm", func(m *tocsinv1.Member) error { m.Contact = "changed elsewhere"; return nil }); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "the changed contact in the reader's cache", func() error {
		c, err := reader.cachedMember("ir-firm")
		if err == nil && c.m.Contact != "changed elsewhere" {
			err = fmt.Errorf("cache holds contact %q at revision %d", c.m.Contact, c.rev)
		}
		return err
	})
	// The hot path serves the cached copy, and the copy is the caller's own.
	m, err := reader.Member(ctx, "ir-firm")
	if err != nil || m.Contact != "changed elsewhere" {
		t.Fatalf("Member = %v, %v", m, err)
	}
	m.Contact = "scribbled on"
	if c, _ := reader.cachedMember("ir-firm"); c.m.Contact != "changed elsewhere" {
		t.Error("Member returned the cache's own record")
	}
	if _, err := writer.Revoke(ctx, "ir-firm", time.Time{}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, "the revocation in the reader's cache", func() error {
		if got := reader.InSectors([]string{"health-it"}); len(got) != 0 {
			return fmt.Errorf("revoked member still listed: %v", ids(got))
		}
		if m, err := reader.Member(ctx, "ir-firm"); err != nil || m.RevokedAt == nil {
			return fmt.Errorf("Member = %v, %v; want the revoked record", m, err)
		}
		return nil
	})
	// A record written straight to the bucket that does not decode is
	// skipped by the watcher and reported by Get; the cache keeps the last
	// good copy.
	kv, err := writerJS.KeyValue(ctx, records.BucketMembers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "ir-firm", []byte("not a member")); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Get(ctx, "ir-firm"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an undecodable record: %v", err)
	}
	// After Close, lookups read the bucket.
	reader.Close()
	reader.Close()
	if _, err := reader.Member(ctx, "ir-firm"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Member after Close = %v; want the bucket's undecodable record, not the cache's last good copy", err)
	}
	// A record deleted behind the registry's back is gone for Get and, once
	// the watcher sees the delete, for the cache.
	if err := kv.Delete(ctx, "ir-firm"); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Get(ctx, "ir-firm"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a deleted record: %v", err)
	}
	testwait.For(t, 5*time.Second, "the deleted record gone from the cache", func() error {
		if _, err := writer.cachedMember("ir-firm"); err == nil {
			return errors.New("the deleted record is still cached")
		}
		return nil
	})
	if _, err := writer.Member(ctx, "nobody"); !errors.Is(err, envelope.ErrUnknownMember) {
		t.Errorf("Member(nobody) = %v", err)
	}
}

// A registry whose nodes do not answer (on a stream set per region, its
// region lost: MEMBERS is held there only) is refused saying so, not as a
// cluster to provision. The JetStream API here is one nobody answers.
func TestOpenSaysWhenNoNodeHoldingTheRegistryAnswers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{Nodes: 1, DataDir: t.TempDir(), BasePort: broker.RandomPort}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	nc, err := nats.Connect(c.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe("silent.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.NewWithAPIPrefix(nc, "silent")
	if err != nil {
		t.Fatal(err)
	}
	octx, ocancel := context.WithTimeout(ctx, time.Second)
	defer ocancel()
	_, err = OpenUncached(octx, js, Vocabulary{}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "held in the registry's region only") || strings.Contains(err.Error(), "provision") {
		t.Errorf("Open with no node answering = %v", err)
	}
}

func TestOpenFailsWithoutTheBucket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := broker.StartCluster(ctx, broker.ClusterOptions{Nodes: 1, DataDir: t.TempDir(), BasePort: broker.RandomPort}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	_, err = Open(ctx, connectJS(t, c.ClientURL()), Vocabulary{}, nil)
	if !errors.Is(err, jetstream.ErrBucketNotFound) || !strings.Contains(err.Error(), "provision the cluster first") {
		t.Errorf("Open without the bucket = %v", err)
	}
	if _, err := Open(ctx, nil, Vocabulary{Lanes: []string{"FLASH"}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open with a bad vocabulary = %v", err)
	}
}
