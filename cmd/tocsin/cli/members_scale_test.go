package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	scaleMembers = flag.Int("members.n", 10000, "BenchmarkMembersAtScale: members admitted from one CSV file")
	scaleEager   = flag.Bool("members.eager", false, "BenchmarkMembersAtScale: create every member's consumers at admission (--lazy-consumers=false) instead of the default, lazy at that size")
)

// BenchmarkMembersAtScale admits -members.n members from one CSV file
// as tocsin members add does by default (more than 100 at once: lazy
// consumers; goal: 10,000 in under a minute; -members.eager creates their
// consumers at admission instead), then revokes one
// whose connection is open and reports how long until it is closed (goal:
// within a second of the push). Use -benchtime 1x.
func BenchmarkMembersAtScale(b *testing.B) {
	for b.Loop() {
		d := startDevCluster(b)
		var csv strings.Builder
		csv.WriteString("id,name,sectors,region\n")
		for i := range *scaleMembers {
			fmt.Fprintf(&csv, "clinic-%05d,Clinic %d,patient-care,northeast\n", i, i)
		}
		list := filepath.Join(b.TempDir(), "clinics.csv")
		if err := os.WriteFile(list, []byte(csv.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		run := func(args ...string) time.Duration {
			var o, e bytes.Buffer
			start := time.Now()
			if code := Main(append(args, "--server", d.url, "--tls-ca", d.ca, "--keys", d.keys, "--timeout", "15m"), &o, &e); code != 0 {
				b.Fatalf("tocsin %s: exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
			}
			return time.Since(start)
		}
		add := []string{"members", "add", "--file", list, "--out", dir}
		if *scaleEager {
			add = append(add, "--lazy-consumers=false")
		}
		added := run(add...)
		c, closed, err := d.connect(filepath.Join(dir, "clinic-00042.creds"))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		revoked := run("members", "revoke", "clinic-00042")
		select {
		case <-closed:
		case <-time.After(time.Minute):
			b.Fatal("the revoked member's connection was not closed within a minute")
		}
		closedAfter := time.Since(start)
		c.Close()
		b.ReportMetric(added.Seconds(), "add-s")
		b.ReportMetric(revoked.Seconds(), "revoke-command-s")
		b.ReportMetric(closedAfter.Seconds(), "revoke-closed-s")
	}
}
