package scale

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/freeport"
	"github.com/tocsin-project/tocsin/server"
)

// ErrCluster is wrapped when the benchmark's cluster cannot be set up or
// does not become healthy.
var ErrCluster = errors.New("scale cluster")

// cluster is three `tocsin node` processes from tocsin init, on loopback,
// as production runs them: operator mode with member accounts, TLS on
// clients and routes, HTTPS on the web face (TAXII and the console take
// credentials only over it).
type cluster struct {
	bin, dir, keys string
	// account is the public key of the account that holds Tocsin's
	// streams and buckets (TOCSIN).
	account string
	// resolverSync is every node's resolver_sync; 0: the node's default.
	resolverSync time.Duration
	nodes        []*node
	https        *http.Client
}

// node is one node process; it can be killed and started again on its data.
type node struct {
	name, config, clientURL, httpAddr, store, log string
	cmd                                           *exec.Cmd
	done                                          chan struct{}
}

// startCluster runs tocsin init in dir/keys, writes three node configs and
// starts the nodes; it returns when every node says it is ready.
func startCluster(ctx context.Context, bin, dir string, resolverSync time.Duration) (*cluster, error) {
	c := &cluster{bin: bin, dir: dir, keys: filepath.Join(dir, "keys"), resolverSync: resolverSync}
	names := []string{"scale-1", "scale-2", "scale-3"}
	if _, err := runTool(ctx, bin, "init", "--dir", c.keys, "--nodes", strings.Join(names, ","), "--tls-hosts", "127.0.0.1,localhost"); err != nil {
		return nil, err
	}
	a, err := auth.Load(c.keys)
	if err != nil {
		return nil, fmt.Errorf("%w: the keys of tocsin init: %v", ErrCluster, err)
	}
	c.account = a.Account()
	ports, err := freeport.Pick("127.0.0.1", 3*len(names))
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"configs", "logs", "store"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	routes := make([]string, len(names))
	for i := range names {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+1])
	}
	for i, name := range names {
		n := &node{name: name, clientURL: fmt.Sprintf("nats://127.0.0.1:%d", ports[3*i]), httpAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
			store: filepath.Join(dir, "store", name), config: filepath.Join(dir, "configs", name+".yaml"), log: filepath.Join(dir, "logs", name+".log")}
		if err := c.writeConfig(n, i, ports, routes); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(c.CA())
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: the CA of tocsin init (%s) does not load: %v", ErrCluster, c.CA(), err)
	}
	c.https = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for _, n := range c.nodes {
		if err := n.start(bin); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.waitReady(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// writeConfig writes node n's YAML: tocsin init's auth and TLS files, the
// other nodes' routes, HTTPS on its web face.
func (c *cluster) writeConfig(n *node, i int, ports []int, routes []string) error {
	nodeDir := filepath.Join(c.keys, "nodes", n.name)
	files := func() *server.TLSConfig {
		return &server.TLSConfig{Cert: filepath.Join(nodeDir, "tls", "cert.pem"), Key: filepath.Join(nodeDir, "tls", "key.pem"), CA: filepath.Join(nodeDir, "tls", "ca.pem")}
	}
	var nc server.NodeConfig
	nc.Name = n.name
	nc.ClusterName = "tocsin-scale"
	nc.Listen = strings.TrimPrefix(n.clientURL, "nats://")
	nc.HTTP = n.httpAddr
	nc.HTTPTLS = files()
	nc.StoreDir = n.store
	if c.resolverSync > 0 {
		nc.ResolverSync = c.resolverSync.String()
	}
	nc.Auth = nodeDir
	nc.ServiceCreds = filepath.Join(nodeDir, "service.creds")
	nc.TLS = files()
	nc.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", ports[3*i+1])
	nc.Cluster.TLS = files()
	for j, r := range routes {
		if j != i {
			nc.Cluster.Routes = append(nc.Cluster.Routes, r)
		}
	}
	data, err := yaml.Marshal(nc)
	if err != nil {
		return err
	}
	return os.WriteFile(n.config, data, 0o600)
}

// start runs the node process; its output is appended to its log.
func (n *node) start(bin string) error {
	log, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "node", "--config", n.config, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("%w: start %s: %v", ErrCluster, n.name, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(n.done) }()
	return nil
}

// kill sends SIGKILL and waits for the exit.
func (n *node) kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
}

// pid is the running process's id, 0 when none runs.
func (n *node) pid() int {
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// URLs are the nodes' client URLs, comma-separated.
func (c *cluster) URLs() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, n.clientURL)
	}
	return strings.Join(urls, ",")
}

// CA is the cluster CA's certificate, which clients trust.
func (c *cluster) CA() string { return filepath.Join(c.keys, "tls", "ca.pem") }

// ServiceCreds are the TOCSIN account's service credentials (node 1's).
func (c *cluster) ServiceCreds() string {
	return filepath.Join(c.keys, "nodes", c.nodes[0].name, "service.creds")
}

// Close kills every node.
func (c *cluster) Close() {
	for _, n := range c.nodes {
		n.kill()
	}
}

// ready reports whether node n's /readyz says plainly "ready" (every
// route up, every peer online, every stream led), and else what it says.
func (c *cluster) ready(ctx context.Context, n *node) (bool, string) {
	code, body, err := c.get(ctx, n, "/readyz", "")
	if err != nil {
		return false, err.Error()
	}
	text := strings.TrimSpace(string(body))
	return code == http.StatusOK && text == "ready", text
}

// waitReady waits until every running node is ready.
func (c *cluster) waitReady(ctx context.Context) error {
	var why string
	for {
		all := true
		for _, n := range c.nodes {
			if ok, w := c.ready(ctx, n); !ok {
				all, why = false, n.name+": "+w
				break
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: not ready: %s: %v", ErrCluster, why, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// get fetches path from node n's web face with bearer token (none if ""),
// returning the status and the body.
func (c *cluster) get(ctx context.Context, n *node, path, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+n.httpAddr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.https.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, body, err
}

// admit runs tocsin members add --lazy-consumers for the seed file as
// tocsin init's admin, writing credentials to out/<id>.creds; progress hears each line the
// command writes on stderr (its steps), as it writes it.
func (c *cluster) admit(ctx context.Context, seed, out string, progress func(string)) error {
	args := []string{"members", "add", "--file", seed, "--out", out, "--keys", c.keys, "--creds", filepath.Join(c.keys, "admin.creds"),
		"--tls-ca", c.CA(), "--server", c.URLs(), "--timeout", "60m", "--lazy-consumers"}
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: tocsin members add: %v", ErrCluster, err)
	}
	var last string
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		last = lines.Text()
		progress("tocsin members add: " + last)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%w: tocsin %s: %v: %s", ErrCluster, strings.Join(args, " "), err, last)
	}
	return nil
}

// runTool runs one tocsin command and returns its standard output.
func runTool(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: tocsin %s: %v: %s", ErrCluster, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// noQuorum is what nats-server logs when a stream's or consumer's raft
// group has lost its quorum.
const noQuorum = "has NO quorum"

// logged counts the lines of the nodes' logs that contain text.
func (c *cluster) logged(text string) int {
	count := 0
	for _, n := range c.nodes {
		data, err := os.ReadFile(n.log)
		if err != nil {
			continue
		}
		count += bytes.Count(data, []byte(text))
	}
	return count
}

// dirBytes is the disk the files under dir take (their sizes), 0 when it
// cannot be read.
func dirBytes(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
