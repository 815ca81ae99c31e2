package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/server"
	"github.com/tocsin-project/tocsin/site"
)

// tocsin members site-creds issues credentials with which a site links to
// the cluster's leaf listener (over TLS) and sources the member's inbox
// consumer, which the command created.
func TestMembersSiteCredsLinkASite(t *testing.T) {
	var leaf []string
	d := startDevCluster(t, func(o *server.Options) {
		o.Dev.LeafPort = broker.RandomPort
		ready := o.OnReady
		o.OnReady = func(s *server.Server) { leaf = s.LeafURLs(); ready(s) }
	})
	d.creds = filepath.Join(d.data, "creds", "admin.creds")
	out := filepath.Join(t.TempDir(), "hilltop-site.creds")
	if got := d.must("members", "site-creds", "hilltop", "--out", out); !strings.Contains(got, "site credentials of hilltop") {
		t.Fatalf("site-creds said %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := site.New(ctx, site.Options{Hub: leaf, Creds: out, CA: d.ca, DataDir: t.TempDir(), Listen: "127.0.0.1:-1", Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Exit()
	testwait.For(t, 30*time.Second, "hilltop's site sourcing its inbox", func() error {
		st, err := s.Status(ctx)
		if err != nil {
			return err
		}
		if !st.LinkUp {
			return errString("link down")
		}
		for _, src := range st.Sources {
			if src.Stream == "INBOX" && src.Error == "" && src.Active < 10*time.Second {
				return nil
			}
		}
		return errString("no healthy INBOX source")
	})
}

type errString string

func (e errString) Error() string { return string(e) }
