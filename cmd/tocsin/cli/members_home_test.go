package cli

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/server"
	"github.com/tocsin-project/tocsin/subjects"
)

// serviceJS is a JetStream context on a Tocsin service connection to d.
func (d *devCluster) serviceJS() jetstream.JetStream {
	d.t.Helper()
	a, err := auth.Load(d.keys)
	if err != nil {
		d.t.Fatal(err)
	}
	creds, err := a.IssueService("svc-test")
	if err != nil {
		d.t.Fatal(err)
	}
	opt, err := auth.CredsOption(creds)
	if err != nil {
		d.t.Fatal(err)
	}
	nc, err := nats.Connect(d.url, opt, nats.RootCAs(server.DevTLSCA(d.data)))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		d.t.Fatal(err)
	}
	return js
}

// regionStreams creates, for each region, the streams a member homed there
// publishes into and reads from, named and on the subjects of a region's
// stream set (INGEST-<region>, SECTORS-<region>, ...), at one replica
// wherever the cluster places them: enough for the account's imports and
// the consumers, not a region's placement or sources.
func regionStreams(ctx context.Context, t *testing.T, js jetstream.JetStream, regions ...string) {
	t.Helper()
	for _, r := range regions {
		for name, subject := range map[string]string{subjects.StreamIngest: subjects.IngestAll, subjects.StreamSectors: subjects.SectorsAll,
			subjects.StreamInbox: subjects.InboxAll, subjects.StreamRejections: subjects.Rejection(">")} {
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: subjects.RegionStream(name, r),
				Subjects: []string{subjects.InRegion(r, subject)}, Storage: jetstream.FileStorage}); err != nil {
				t.Fatalf("stream %s of region %s: %v", name, r, err)
			}
		}
	}
}

// members add --home-region admits a member into a region's streams, and
// set-home moves it: its ingest lands in the new region's INGEST, its
// consumers and its site's consumers are on the new region's copies
// streams (the old region's deleted), and a region the cluster does not have is refused, naming
// those it has.
func TestMembersHomeRegionAddAndMove(t *testing.T) {
	d := startDevCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	js := d.serviceJS()
	regionStreams(ctx, t, js, "east", "west")
	dir := t.TempDir()
	creds := filepath.Join(dir, "st-anne.creds")
	add := []string{"members", "add", "--id", "st-anne", "--name", "St. Anne", "--sectors", "patient-care", "--region", "northeast", "--out", creds}

	code, out, errOut := d.cli(append(add, "--home-region", "esat")...)
	if code != ExitUsage || !strings.Contains(errOut, `member "st-anne": unknown region "esat"; known: east, west`) {
		t.Fatalf("members add --home-region esat: exit %d\n%s%s\nwant exit %d naming the known regions", code, out, errOut, ExitUsage)
	}
	d.must(append(add, "--home-region", "east")...)
	if out := d.must("members", "show", "st-anne"); !regexp.MustCompile(`(?m)^home region:\s+east$`).MatchString(out) {
		t.Fatalf("members show st-anne:\n%s\nwant home region east", out)
	}

	// published wants the member's alert ingested by stream; the member
	// then reads a copy through its own consumer on the region's SECTORS.
	published := func(stream, copySubject string) {
		t.Helper()
		c, _, err := d.connect(creds)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ack, err := c.JetStream().Publish(ctx, subjects.Ingest(subjects.KindAlert, "st-anne"), []byte("x"))
		if err != nil || ack.Stream != stream {
			t.Fatalf("st-anne's ingest acknowledged by %+v (%v), want %s", ack, err, stream)
		}
		id := "copy-" + stream
		if _, err := js.Publish(ctx, copySubject, []byte(id)); err != nil {
			t.Fatal(err)
		}
		sectors := subjects.RegionStream(subjects.StreamSectors, strings.TrimPrefix(stream, "INGEST-"))
		cons, err := c.JetStream().Consumer(ctx, sectors, auth.SectorsConsumer("st-anne"))
		if err != nil {
			t.Fatalf("st-anne's consumer on %s: %v", sectors, err)
		}
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			if string(m.Data()) != id {
				t.Fatalf("st-anne read %q on %s, want %q", m.Data(), sectors, id)
			}
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatalf("st-anne acking on %s: %v", sectors, err)
			}
			return
		}
		t.Fatalf("st-anne read nothing on %s (%v)", sectors, b.Error())
	}
	published("INGEST-east", "tocsin.r.east.sector.patient-care.flash")

	// St. Anne has a site: its site consumers are on east's streams.
	d.must("members", "site-creds", "st-anne", "--out", filepath.Join(dir, "st-anne-site.creds"))
	siteInbox := auth.SiteConsumerName("st-anne", subjects.StreamInbox)
	if _, err := js.PushConsumer(ctx, "INBOX-east", siteInbox); err != nil {
		t.Fatalf("st-anne's site consumer on INBOX-east: %v", err)
	}

	code, out, errOut = d.cli("members", "set-home", "st-anne", "wset")
	if code != ExitUsage || !strings.Contains(errOut, `member "st-anne": unknown region "wset"; known: east, west`) {
		t.Fatalf("members set-home st-anne wset: exit %d\n%s%s", code, out, errOut)
	}
	if out := d.must("members", "set-home", "st-anne", "west"); !strings.Contains(out, "moved st-anne from region east to region west") {
		t.Fatalf("members set-home st-anne west:\n%s", out)
	}
	published("INGEST-west", "tocsin.r.west.sector.patient-care.flash")
	if _, err := js.Consumer(ctx, "SECTORS-east", auth.SectorsConsumer("st-anne")); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("st-anne's consumer on the region it left, SECTORS-east: %v, want deleted", err)
	}
	if _, err := js.PushConsumer(ctx, "INBOX-east", siteInbox); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("st-anne's site consumer on the region it left, INBOX-east: %v, want deleted", err)
	}
	if _, err := js.PushConsumer(ctx, "INBOX-west", siteInbox); err != nil {
		t.Fatalf("st-anne's site consumer on INBOX-west: %v, want moved there", err)
	}
	cons, err := js.Consumer(ctx, "SECTORS-west", auth.SectorsConsumer("st-anne"))
	if err != nil || cons.CachedInfo().Config.FilterSubject != "tocsin.r.*.sector.patient-care.>" {
		t.Fatalf("st-anne's consumer on SECTORS-west: %+v, %v; want every region's patient-care copies", cons, err)
	}
}
