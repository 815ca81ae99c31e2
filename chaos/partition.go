package chaos

import (
	"context"
	"fmt"
	"time"
)

// Isolate cuts node n off from the others: both directions of every route
// and gateway pair through it, and every advertised address (gossip could
// otherwise dial around the cut). The majority's routes between themselves
// stay.
func (c *cluster) Isolate(n *node) {
	for _, p := range c.adverts {
		p.Cut()
	}
	for k := range c.nodes {
		for _, p := range []*Proxy{c.routes[n.idx][k], c.routes[k][n.idx], c.gws[n.idx][k], c.gws[k][n.idx]} {
			if p != nil {
				p.Cut()
			}
		}
	}
}

// peers are the nodes of n's region but n: those it has routes to.
func (c *cluster) peers(n *node) []*node {
	var out []*node
	for _, k := range c.nodes {
		if k != n && k.region == n.region {
			out = append(out, k)
		}
	}
	return out
}

// HealNetwork lets every proxy through again.
func (c *cluster) HealNetwork() {
	for _, p := range c.proxies() {
		p.Heal()
	}
}

// ConfirmIsolated waits until the nodes themselves say n is cut off: every
// other node's /status names its route to n as not connected, and n's own
// /status (if it answers in time: without a quorum its stream queries can
// hang) names both of its routes. It returns what confirmed the cut.
func (c *cluster) ConfirmIsolated(ctx context.Context, n *node) (string, error) {
	var confirmed []string
	err := poll(ctx, 250*time.Millisecond, func() error {
		confirmed = confirmed[:0]
		for _, k := range c.peers(n) {
			st, err := c.status(ctx, k, 5*time.Second)
			if err != nil {
				return err
			}
			if addr := c.routes[k.idx][n.idx].Addr(); !routeMissing(st, addr) {
				return fmt.Errorf("%s still lists its route to %s (%s) as connected", k.name, n.name, addr)
			}
			confirmed = append(confirmed, k.name+" lost its route to "+n.name)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if st, err := c.status(ctx, n, 8*time.Second); err == nil {
		for _, k := range c.peers(n) {
			if !routeMissing(st, c.routes[n.idx][k.idx].Addr()) {
				return "", fmt.Errorf("%s, cut off, still lists its route to %s as connected", n.name, k.name)
			}
		}
		confirmed = append(confirmed, n.name+" lost its routes")
	} else {
		confirmed = append(confirmed, n.name+" /status did not answer: "+err.Error())
	}
	for _, k := range c.peers(n) {
		if open := c.routes[n.idx][k.idx].Open() + c.routes[k.idx][n.idx].Open(); open != 0 {
			return "", fmt.Errorf("%d connections still open between %s and %s", open, n.name, k.name)
		}
	}
	return fmt.Sprint(confirmed), nil
}
