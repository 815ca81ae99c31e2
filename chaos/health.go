package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/server"
)

var httpClient = &http.Client{Timeout: 5 * time.Second}

// get fetches http://addr/path with its own timeout.
func get(ctx context.Context, addr, path string, timeout time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// status is node n's own view of the cluster (its HTTP /status).
func (c *cluster) status(ctx context.Context, n *node, timeout time.Duration) (*server.Status, error) {
	code, body, err := get(ctx, n.httpAddr, "/status", timeout)
	if err != nil {
		return nil, fmt.Errorf("%s /status: %w", n.name, err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s /status: %d %s", n.name, code, strings.TrimSpace(body))
	}
	var st server.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return nil, fmt.Errorf("%s /status is not JSON: %v", n.name, err)
	}
	return &st, nil
}

// ready reports whether node n's /readyz says plainly "ready" (not
// degraded), and else what it says. A witness of regions on stream sets,
// which holds no stream and serves no member, says ready once the meta
// group stands.
func (c *cluster) ready(ctx context.Context, n *node) (bool, string) {
	code, body, err := get(ctx, n.httpAddr, "/readyz", 5*time.Second)
	if err != nil {
		return false, err.Error()
	}
	body = strings.TrimSpace(body)
	return code == http.StatusOK && body == "ready", body
}

// WaitHealthy waits until every node runs and says it is ready, not
// degraded: all routes up, every peer online, every stream led.
func (c *cluster) WaitHealthy(ctx context.Context) error { return c.waitReady(ctx, c.nodes, false) }

// waitReady waits until every node of nodes runs and says it is ready
// (degraded too, with degraded).
func (c *cluster) waitReady(ctx context.Context, nodes []*node, degraded bool) error {
	return poll(ctx, 250*time.Millisecond, func() error {
		for _, n := range nodes {
			if !n.proc.Running() {
				return fmt.Errorf("%s is not running", n.name)
			}
			ok, why := c.ready(ctx, n)
			if !ok && !(degraded && strings.HasPrefix(why, "ready, degraded")) {
				return fmt.Errorf("%s: %s", n.name, why)
			}
		}
		return nil
	})
}

// routeMissing reports whether st names the route to addr as not connected.
func routeMissing(st *server.Status, addr string) bool {
	for _, p := range st.Problems {
		if strings.Contains(p, "route nats-route://"+addr+" not connected") {
			return true
		}
	}
	return false
}

// streamLeader asks every running node's /status which node leads stream
// (INGEST, or a region's INGEST-east: a node reports its own region's
// set).
func (c *cluster) streamLeader(ctx context.Context, stream string) (*node, error) {
	var last error
	for _, n := range c.nodes {
		if !n.proc.Running() {
			continue
		}
		st, err := c.status(ctx, n, 5*time.Second)
		if err != nil {
			last = err
			continue
		}
		for _, s := range st.Streams {
			if s.Name != stream || s.Leader == "" {
				continue
			}
			for _, m := range c.nodes {
				if m.name == s.Leader {
					return m, nil
				}
			}
			return nil, fmt.Errorf("%s says %s is led by %q, not a node of this cluster", n.name, stream, s.Leader)
		}
		last = fmt.Errorf("%s does not know the %s leader", n.name, stream)
	}
	return nil, fmt.Errorf("no node named the %s leader: %v", stream, last)
}

// poll calls f every interval until it returns nil or ctx ends; the error
// then says what was still wrong: f's last error from before ctx ended (a
// call cut short by the end of ctx says only that).
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	var wrong error
	for {
		err := f()
		if err == nil {
			return nil
		}
		if wrong == nil || ctx.Err() == nil {
			wrong = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ctx.Err(), wrong)
		case <-time.After(interval):
		}
	}
}
