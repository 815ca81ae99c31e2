package site_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/cmd/tocsin/cli"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// TestCLIAtTheSiteDuringACut: the member's CLI pointed at its site during
// a cut: tocsin status-report and sighting report exit 0 on the site's
// PubAck and say "queued at the site: the hub is unreachable", as do aid
// request and ack (with the message's id); tocsin
// status answers locally (link down, the backlog); after heal it says the
// link is up and the outbox is empty.
func TestCLIAtTheSiteDuringACut(t *testing.T) {
	p := cutproxy.New(t)
	h := startHubWith(t, func(l *broker.LeafOptions) { l.Advertise = p.Addr() })
	p.Start(strings.TrimPrefix(h.c.Node(0).LeafURL(), "nats-leaf://"))
	s := h.startSiteVia("st-mary", "", t.TempDir(), "nats-leaf://"+p.Addr())
	testwait.For(t, 20*time.Second, "the leaf link up", testwait.True(func() bool { up, _ := s.Link(); return up }))
	p.Cut()
	testwait.For(t, 20*time.Second, "the link down", testwait.True(func() bool { up, _ := s.Link(); return !up }))
	run := func(args ...string) string {
		t.Helper()
		return runCLI(t, s, h, args...)
	}
	if out := run("status-report", "--state", "degraded", "--note", "wan cut"); !strings.Contains(out, "queued at the site: the hub is unreachable") {
		t.Fatalf("status-report at the site during a cut said %q", out)
	}
	if out := run("sighting", "report", "--indicator", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"); !strings.Contains(out, "queued at the site: the hub is unreachable") {
		t.Fatalf("sighting report at the site during a cut said %q", out)
	}
	if out := run("aid", "request", "--need", "incident-response:1", "--tlp", "green", "--note", "wan cut"); !strings.Contains(out, "queued at the site: the hub is unreachable") {
		t.Fatalf("aid request at the site during a cut said %q", out)
	}
	env, _ := h.seal("acme-pharma", tocsinv1.Kind_KIND_STATUS_REPORT, &tocsinv1.StatusReport{State: tocsinv1.FacilityState_FACILITY_STATE_NORMAL})
	if out := run("ack", env.GetId(), "--by", "SOC lead"); !strings.Contains(out, "queued at the site: the hub is unreachable") || !strings.Contains(out, "(message ") {
		t.Fatalf("ack at the site during a cut said %q", out)
	}
	if out := run("status"); !strings.Contains(out, "link to the hub: DOWN") || !strings.Contains(out, "outbox: 4 messages") {
		t.Fatalf("tocsin status at the site during a cut:\n%s", out)
	}
	p.Heal()
	testwait.For(t, 30*time.Second, "the site's status after heal", func() error {
		var out, errOut bytes.Buffer
		cli.Main([]string{"status", "--server", s.ClientURL(), "--creds", h.memberCreds["st-mary"]}, &out, &errOut)
		if !strings.Contains(out.String(), "link to the hub: up") || !strings.Contains(out.String(), "outbox: 0 messages") {
			return errorString(out.String())
		}
		return nil
	})
}

type errorString string

func (e errorString) Error() string { return string(e) }
