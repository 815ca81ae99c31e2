package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestMembersAddFromACSVWithLazyConsumers: members admitted from a CSV
// file with --lazy-consumers get no consumers at admission; the first
// agent of one connects and has the agent service create them.
func TestMembersAddFromACSVWithLazyConsumers(t *testing.T) {
	d := startDevCluster(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "clinics.csv")
	if err := os.WriteFile(list, []byte("id,name,sectors,region,roles,contact\nclinic-a,Clinic A,patient-care,northeast,,+1-555-0111\nclinic-b,Clinic B,patient-care;pharma,northeast,member,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := d.must("members", "add", "--file", list, "--lazy-consumers", "--out", filepath.Join(dir, "creds"))
	if !strings.Contains(out, "added clinic-a") || !strings.Contains(out, "added clinic-b") || !strings.Contains(out, "applied on 3 nodes") {
		t.Fatalf("members add --file clinics.csv:\n%s", out)
	}
	creds := filepath.Join(dir, "creds", "clinic-a.creds")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The push returns when the nodes' answers go quiet; on a loaded
	// machine one node may store the new account a moment later.
	var c *client.Client
	testwait.Until(ctx, t, "clinic-a to connect", func() error {
		var err error
		c, _, err = d.connect(creds)
		return err
	})
	defer c.Close()
	name := auth.SectorConsumer("clinic-a", "patient-care")
	if _, err := c.JetStream().Consumer(ctx, subjects.StreamSectors, name); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("a lazily admitted member's consumer before its agent: %v, want not found", err)
	}
	j, err := agent.OpenJSONL(agent.JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	a := d.runAgent(creds, filepath.Join(dir, "state"), j)
	testwait.Until(ctx, t, "the agent to be live", func() error {
		if s := a.HTTPState().State; s != "live" {
			return errors.New(s)
		}
		return nil
	})
	if _, err := c.JetStream().Consumer(ctx, subjects.StreamSectors, name); err != nil {
		t.Fatalf("the consumer after the agent connected: %v", err)
	}
}

// TestMembersAddIsLazyByDefaultAtScale: an add of more members than
// lazyAbove creates no consumers unless --lazy-consumers=false says so; a
// small add creates them at admission.
func TestMembersAddIsLazyByDefaultAtScale(t *testing.T) {
	d := startDevCluster(t)
	defer func(n int) { lazyAbove = n }(lazyAbove)
	lazyAbove = 1
	dir := t.TempDir()
	write := func(name string, ids ...string) string {
		csv := "id,name,sectors,region\n"
		for _, id := range ids {
			csv += id + "," + id + ",patient-care,northeast\n"
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	d.must("members", "add", "--file", write("many.csv", "clinic-m1", "clinic-m2"), "--out", filepath.Join(dir, "many"))
	d.must("members", "add", "--file", write("eager.csv", "clinic-e1", "clinic-e2"), "--lazy-consumers=false", "--out", filepath.Join(dir, "eager"))
	d.must("members", "add", "--file", write("one.csv", "clinic-o1"), "--out", filepath.Join(dir, "clinic-o1.creds"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range []struct {
		id, dir string
		want    bool
	}{{"clinic-m1", "many", false}, {"clinic-m2", "many", false}, {"clinic-e1", "eager", true}, {"clinic-e2", "eager", true}, {"clinic-o1", "", true}} {
		var cl *client.Client
		testwait.Until(ctx, t, c.id+" to connect", func() error {
			var err error
			cl, _, err = d.connect(filepath.Join(dir, c.dir, c.id+".creds"))
			return err
		})
		_, err := cl.JetStream().Consumer(ctx, subjects.StreamSectors, auth.SectorsConsumer(c.id))
		cl.Close()
		if got := err == nil; got != c.want || (err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound)) {
			t.Errorf("%s's consumer after admission: %v, want it to exist: %v", c.id, err, c.want)
		}
	}
}

// TestMembersListPages: the list comes a page at a time, in id order,
// with the command for the next page; filters keep what matches.
func TestMembersListPages(t *testing.T) {
	d := startDevCluster(t)
	out := d.must("members", "list", "--limit", "5")
	if !strings.Contains(out, "5 of 1") || !strings.Contains(out, "more: tocsin members list --after ") || !strings.Contains(out, "--limit 5") {
		t.Fatalf("members list --limit 5:\n%s", out)
	}
	last := out[strings.Index(out, "--after ")+len("--after "):]
	last = strings.Fields(last)[0]
	next := d.must("members", "list", "--limit", "5", "--after", last)
	if strings.Contains(next, last+" ") || len(strings.Split(strings.TrimSpace(next), "\n")) < 3 {
		t.Fatalf("the next page after %s:\n%s", last, next)
	}
	if pc := d.must("members", "list", "--sector", "pharma", "--limit", "0"); !strings.Contains(pc, "acme-pharma") || strings.Contains(pc, "st-mary") {
		t.Fatalf("--sector pharma:\n%s", pc)
	}
	if code, _, errOut := d.cli("members", "list", "--status", "gone"); code != ExitUsage || !strings.Contains(errOut, "use active or revoked") {
		t.Fatalf("--status gone: exit %d %s", code, errOut)
	}
}
