package chaos

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// Nodes is the chaos harness's cluster for other harnesses (the fan-out
// benchmark's --nodes-procs): three `tocsin node` processes from tocsin
// init (operator mode, member accounts, TLS), routes through proxies that
// inject nothing unless asked.
type Nodes struct{ c *cluster }

// StartNodes runs tocsin init in dir/keys, starts the three node
// processes of bin with sync_interval sync ("" or "always") and waits
// until the cluster is healthy. Close stops them.
func StartNodes(ctx context.Context, bin, dir, sync string, log *zap.Logger) (*Nodes, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if sync == "" {
		sync = "always"
	}
	c, err := newCluster(ctx, bin, dir, sync, false, log)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("the node processes never became healthy: %w", err)
	}
	return &Nodes{c: c}, nil
}

// URLs are the nodes' client URLs, comma-separated.
func (n *Nodes) URLs() string { return n.c.URLs() }

// CA is the cluster CA's certificate, which clients trust.
func (n *Nodes) CA() string { return n.c.CA() }

// ServiceCreds are the unrestricted credentials of Tocsin's services in
// the TOCSIN account (node 1's), which holds every stream.
func (n *Nodes) ServiceCreds() string {
	return n.c.ServiceCreds()
}

// Admit runs tocsin members add for the seed file (extra: more flags,
// such as --lazy-consumers), writing credentials to out/<id>.creds.
func (n *Nodes) Admit(ctx context.Context, seed, out string, extra ...string) error {
	_, err := runTool(ctx, n.c.bin, append(n.c.admitArgs(seed, out), extra...)...)
	return err
}

// Pids are the node processes' ids, in node order (0: not running).
func (n *Nodes) Pids() []int {
	var pids []int
	for _, nd := range n.c.nodes {
		pids = append(pids, nd.proc.Pid())
	}
	return pids
}

// Names are the nodes' names, in node order.
func (n *Nodes) Names() []string {
	var names []string
	for _, nd := range n.c.nodes {
		names = append(names, nd.name)
	}
	return names
}

// Close kills the node processes and closes the proxies.
func (n *Nodes) Close() { n.c.Close() }
