package chaos

import (
	"context"
	"fmt"
	"time"
)

// Isolate cuts node n off from the others: both directions of every pair
// through it, and every advertised address (gossip could otherwise dial
// around the cut). The majority's routes between themselves stay.
func (c *cluster) Isolate(n *node) {
	for _, p := range c.adverts {
		p.Cut()
	}
	for k := range c.nodes {
		if k != n.idx {
			c.routes[n.idx][k].Cut()
			c.routes[k][n.idx].Cut()
		}
	}
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
		for _, k := range c.nodes {
			if k == n {
				continue
			}
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
		for k := range c.nodes {
			if k != n.idx && !routeMissing(st, c.routes[n.idx][k].Addr()) {
				return "", fmt.Errorf("%s, cut off, still lists its route to %s as connected", n.name, c.nodes[k].name)
			}
		}
		confirmed = append(confirmed, n.name+" lost both routes")
	} else {
		confirmed = append(confirmed, n.name+" /status did not answer: "+err.Error())
	}
	for k := range c.nodes {
		if k != n.idx {
			if open := c.routes[n.idx][k].Open() + c.routes[k][n.idx].Open(); open != 0 {
				return "", fmt.Errorf("%d connections still open between %s and %s", open, n.name, c.nodes[k].name)
			}
		}
	}
	return fmt.Sprint(confirmed), nil
}
