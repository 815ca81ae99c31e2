package site_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/cutproxy"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/records"
)

// TestSiteRelaysTheDirectoryAndServesItThroughACut: the member's agent
// asks the site for the public directory (it verifies senders with it):
// the site fetches it as its link comes up and answers from its copy
// during a cut, also an agent that never asked before.
func TestSiteRelaysTheDirectoryAndServesItThroughACut(t *testing.T) {
	p := cutproxy.New(t)
	h := startHubWith(t, func(l *broker.LeafOptions) { l.Advertise = p.Addr() })
	h.runRouter(0)
	ctx := testContext(t, 60*time.Second)
	p.Start(strings.TrimPrefix(h.c.Node(0).LeafURL(), "nats-leaf://"))
	s := h.startSiteVia("st-mary", "", t.TempDir(), "nats-leaf://"+p.Addr())
	testwait.For(t, 20*time.Second, "the leaf link up", testwait.True(func() bool { up, _ := s.Link(); return up }))
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	names := func() string {
		ms, err := records.FetchDirectory(ctx, nc)
		if err != nil {
			return err.Error()
		}
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.GetId())
		}
		return strings.Join(ids, ",")
	}
	// The site fetched the whole directory as the link came up; no one
	// asked for it before the cut.
	testwait.For(t, 20*time.Second, "the site's copy of the directory", testwait.True(func() bool {
		st, err := s.Status(ctx)
		return err == nil && !st.DirectoryFetched.IsZero()
	}))
	p.Cut()
	testwait.For(t, 20*time.Second, "the link down", testwait.True(func() bool { up, _ := s.Link(); return !up }))
	if during := names(); !strings.Contains(during, "acme-pharma") || !strings.Contains(during, "st-mary") {
		t.Fatalf("the directory at the site during the cut is %q, want both members", during)
	}
}
