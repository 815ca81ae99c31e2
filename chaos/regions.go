package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// regionNodes are the nodes of region r.
func (c *cluster) regionNodes(r string) []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.region == r {
			out = append(out, n)
		}
	}
	return out
}

// gatewaysOf are the proxies of every gateway connection between region
// r and the others, both ways.
func (c *cluster) gatewaysOf(r string) []*Proxy {
	var out []*Proxy
	for i := range c.nodes {
		for j := range c.nodes {
			if p := c.gws[i][j]; p != nil && (c.nodes[i].region == r || c.nodes[j].region == r) {
				out = append(out, p)
			}
		}
	}
	return out
}

// CutGateways cuts region r off from the other regions: every gateway
// connection between them is reset and refused. Its routes stay. It
// returns how many connections each of those proxies, and each advertised
// address, had refused before.
func (c *cluster) CutGateways(r string) map[*Proxy]int {
	ps := c.gatewaysOf(r)
	before := refusals(append(slices.Clone(ps), c.voids...))
	for _, p := range ps {
		p.Cut()
	}
	return before
}

// ConfirmGatewaysCut waits until no gateway connection across the cut of
// region r is open and the nodes have dialled across it again and been
// refused (through the pairs' proxies or the advertised addresses they
// learnt); then each other region's node that answers its /status in time
// (without the streams' region a node's /status can hang on its stream
// queries) must name r as a region it has no gateway to.
func (c *cluster) ConfirmGatewaysCut(ctx context.Context, r string, refusedBefore map[*Proxy]int) (string, error) {
	redials := 0
	err := poll(ctx, 250*time.Millisecond, func() error {
		redials = 0
		for p, before := range refusedBefore {
			if p.Open() > 0 {
				return fmt.Errorf("%d connections still open through %s", p.Open(), p.Name())
			}
			_, refused := p.Stats()
			redials += refused - before
		}
		if redials == 0 {
			return fmt.Errorf("no node has dialled across the cut since it began")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	confirmed := []string{fmt.Sprintf("%d redials across the cut refused", redials)}
	want := "no gateway to region " + r
	for _, n := range c.nodes {
		if n.region == r || !n.proc.Running() {
			continue
		}
		st, err := c.status(ctx, n, 8*time.Second)
		switch {
		case err != nil:
			confirmed = append(confirmed, n.name+" /status did not answer")
		case !hasProblem(st.Problems, want):
			return "", fmt.Errorf("%s still has a gateway to %s", n.name, r)
		default:
			confirmed = append(confirmed, fmt.Sprintf("%s says %q", n.name, want))
		}
	}
	return strings.Join(confirmed, "; "), nil
}

// refusals is how many connections each proxy has refused so far.
func refusals(ps []*Proxy) map[*Proxy]int {
	out := map[*Proxy]int{}
	for _, p := range ps {
		_, out[p] = p.Stats()
	}
	return out
}

// hasProblem reports whether one of problems contains s.
func hasProblem(problems []string, s string) bool {
	for _, p := range problems {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

// KillRegion SIGKILLs every node of region r at once (a region's loss)
// and waits until all have exited; Start brings them back.
func (c *cluster) KillRegion(ctx context.Context, r string) ([]string, error) {
	nodes := c.regionNodes(r)
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	var names []string
	for i, n := range nodes {
		done, err := n.proc.signal(syscall.SIGKILL, true)
		if err != nil {
			return nil, err
		}
		names = append(names, n.name)
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = wait(ctx, done, n.name+" after SIGKILL") }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return names, nil
}

// WaitRegistry waits until every replica of the member registry (MEMBERS)
// is current, and in regions every region's mirror of it (MEMBERS-<region>,
// docs/REGIONS.md) holds what MEMBERS holds now: the nodes answer the
// directory and consumer requests from those, and an admin command lists
// the registry by direct get, which any replica answers. A node's /readyz
// waits for neither: a mirror created before MEMBERS existed stayed empty
// (nats-server retrying its origin) for up to a minute after the regions
// said ready, and a member agent started then was told it is not in the
// directory and exited; a replica behind made tocsin members site-creds
// refuse its push ("no active admin would be left").
func (c *cluster) WaitRegistry(ctx context.Context) error {
	nc, err := nats.Connect(c.URLsFrom(c.lay.registry), nats.UserCredentials(c.ServiceCreds()), nats.RootCAs(c.CA()), nats.Name("tocsin chaos registry"))
	if err != nil {
		return fmt.Errorf("connect as the service to read the registry: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	info := func(name string) (*jetstream.StreamInfo, error) {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := js.Stream(ictx, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return s.CachedInfo(), nil
	}
	origin := "KV_" + records.BucketMembers
	var want uint64
	return poll(ctx, 250*time.Millisecond, func() error {
		if want == 0 {
			in, err := info(origin)
			if err != nil {
				return err
			}
			if in.Cluster != nil {
				for _, p := range in.Cluster.Replicas {
					if !p.Current || p.Lag > 0 {
						return fmt.Errorf("%s's replica on %s is behind (current %v, lag %d)", origin, p.Name, p.Current, p.Lag)
					}
				}
			}
			want = in.State.LastSeq
		}
		for _, r := range c.lay.sets {
			if r == c.lay.registry {
				continue
			}
			mirror := "KV_" + subjects.RegionStream(records.BucketMembers, r)
			in, err := info(mirror)
			if err != nil {
				return err
			}
			if in.State.LastSeq < want {
				return fmt.Errorf("%s is at %d of %s's %d", mirror, in.State.LastSeq, origin, want)
			}
		}
		return nil
	})
}

// ServiceCreds are the unrestricted credentials of Tocsin's services
// (the first node's).
func (c *cluster) ServiceCreds() string {
	return filepath.Join(c.keys, "nodes", c.nodes[0].name, "service.creds")
}
