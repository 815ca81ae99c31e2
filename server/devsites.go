package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// devLeafPort is dev node i's leaf port.
func devLeafPort(base, i int) int {
	if base == broker.RandomPort {
		return broker.RandomPort
	}
	return base + i
}

// LeafURLs are the nodes' leaf URLs (member sites dial them); none
// without leaf listeners.
func (s *Server) LeafURLs() []string {
	var out []string
	for _, n := range s.localNodes() {
		if u := n.LeafURL(); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// DevSiteCreds issues the site credentials of demo member id in a dev
// cluster (CredsDir/<id>-site.creds, kept across restarts) and creates
// its site consumers at the hub; it returns the file.
func (s *Server) DevSiteCreds(ctx context.Context, id string) (string, error) {
	if s.dev == nil {
		return "", errors.New("site credentials are issued here only by a dev cluster; use tocsin members site-creds")
	}
	m := s.dev.member(id)
	if m == nil {
		return "", errors.New("no demo member " + id)
	}
	if err := auth.EnsureSiteConsumers(ctx, s.js, m); err != nil {
		return "", err
	}
	path := filepath.Join(s.dev.credsDir, id+"-site.creds")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	creds, err := s.dev.authority.IssueSite(m)
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, creds, 0o600)
}

// member is the demo cast's record of id, nil if none.
func (d *devAuth) member(id string) *tocsinv1.Member {
	for _, m := range d.members {
		if m.GetId() == id {
			return m
		}
	}
	return nil
}

// DevSiteMembers are the demo members `tocsin dev --sites N` gives a site,
// in order.
var DevSiteMembers = []string{"st-mary", "riverside", "lakeside-childrens", "valley-general", "hilltop"}
