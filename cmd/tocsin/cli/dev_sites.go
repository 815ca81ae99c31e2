package cli

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/server"
	"github.com/tocsin-project/tocsin/site"
)

// devSites are the member sites `tocsin dev --sites N` runs beside the
// dev cluster, for the demo members server.DevSiteMembers.
type devSites struct {
	mu    sync.Mutex
	sites []*site.Site
}

// devLeafBase is the first dev node's leaf port for client port port:
// 7422 for 4222.
func devLeafBase(port int) int {
	if port == broker.RandomPort {
		return broker.RandomPort
	}
	return port + broker.DefaultLeafPort - broker.DefaultClientPort
}

// start runs n sites, site i listening on port+10+i (4232, 4233 ...), and
// prints their URLs. A site that fails to start is reported, not fatal.
func (d *devSites) start(ctx context.Context, g *globals, s *server.Server, n, port int, data string, useTLS bool) {
	log, _ := g.logger()
	for i := range min(n, len(server.DevSiteMembers)) {
		id := server.DevSiteMembers[i]
		creds, err := s.DevSiteCreds(ctx, id)
		if err != nil {
			fmt.Fprintf(g.stderr, "site of %s: %v\n", id, err)
			continue
		}
		listen := "127.0.0.1:-1"
		if port != broker.RandomPort {
			listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10+i))
		}
		o := site.Options{Hub: s.LeafURLs(), Creds: creds, DataDir: filepath.Join(data, "sites", id), Listen: listen, Log: log.Named("site-" + id)}
		if useTLS {
			o.CA = server.DevTLSCA(data)
		}
		st, err := site.New(ctx, o)
		if err != nil {
			fmt.Fprintf(g.stderr, "site of %s: %v\n", id, err)
			continue
		}
		d.mu.Lock()
		d.sites = append(d.sites, st)
		d.mu.Unlock()
		fmt.Fprintf(g.stdout, "site of %s %s (connect its agent and CLI here: --server %s --creds %s)\n", id, st.ClientURL(), st.ClientURL(), filepath.Join(s.CredsDir(), id+".creds"))
	}
}

// exit stops every site.
func (d *devSites) exit() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.sites {
		s.Exit()
	}
}
