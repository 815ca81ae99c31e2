package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
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
