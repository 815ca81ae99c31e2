package console

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// siteBucket opens the SITES bucket once it is there (package sitewatch
// writes it on every node with a leaf listener).
type siteBucket struct {
	mu sync.Mutex
	kv jetstream.KeyValue
}

func (b *siteBucket) open(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kv != nil {
		return b.kv, nil
	}
	kv, err := js.KeyValue(ctx, name)
	if err != nil {
		return nil, err
	}
	b.kv = kv
	return kv, nil
}

// seesAllSites is who may know every member's site link: liaisons (who
// already see who received and acted, REACH) and admins. Every other
// member sees its own site only, never another's.
func seesAllSites(m *tocsinv1.Member) bool {
	return members.HasRole(m, tocsinv1.Role_ROLE_LIAISON) || members.HasRole(m, tocsinv1.Role_ROLE_ADMIN)
}

// sites is GET api/sites: the member's own site's link as the hub last
// saw it (records.SiteContact), or, for a liaison or an admin, every
// site's.
func (s *Server) sites(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	kv, err := s.siteKV.open(ctx, s.d.JS, subjects.RegionStream(records.BucketSites, s.opts.Region))
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, "the sites' records are not available on this node: "+err.Error())
		return
	}
	now := time.Now()
	all := seesAllSites(id.Member)
	out := []records.SiteContact{}
	if all {
		out, err = records.ListSites(ctx, kv, now)
	} else if c, ok, rerr := records.ReadSite(ctx, kv, id.Member.GetId(), now); rerr != nil {
		err = rerr
	} else if ok {
		out = append(out, c)
	}
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if out == nil {
		out = []records.SiteContact{}
	}
	scope := "own"
	if all {
		scope = "all"
	}
	writeJSON(w, http.StatusOK, map[string]any{"scope": scope, "now": now.UTC(), "sites": out})
}
