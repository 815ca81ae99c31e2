package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/server"
	"github.com/tocsin-project/tocsin/subjects"
)

// loopbackCluster is what loopbackConfigs made: configs, client URLs,
// HTTP addresses, and the keys of tocsin init.
type loopbackCluster struct {
	configs, urls, httpAddrs []string
	keys                     string
}

// client are the flags of an admin's client of the cluster: its
// credentials and the CA it trusts.
func (lc loopbackCluster) client() []string {
	return []string{"--creds", filepath.Join(lc.keys, "admin.creds"), "--tls-ca", filepath.Join(lc.keys, "tls", "ca.pem")}
}

// loopbackConfigs runs tocsin init, reads deploy/node-{1,2,3}.yaml and
// moves them onto loopback: free ports, temporary store dirs, routes
// rewritten, the auth and TLS files of the init.
func loopbackConfigs(t *testing.T) loopbackCluster {
	t.Helper()
	ports := freePorts(t, 9)
	dir := t.TempDir()
	lc := loopbackCluster{keys: filepath.Join(dir, "keys")}
	if out, errOut, code := run(t, 60*time.Second, "init", "--dir", lc.keys, "--nodes", "tocsin-1,tocsin-2,tocsin-3", "--tls-hosts", "127.0.0.1,localhost"); code != 0 {
		t.Fatalf("tocsin init: exit %d\n%s%s", code, out, errOut)
	}
	for i := 0; i < 3; i++ {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", fmt.Sprintf("node-%d.yaml", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		var c server.NodeConfig
		if err := yaml.Unmarshal(data, &c); err != nil {
			t.Fatalf("deploy/node-%d.yaml: %v", i+1, err)
		}
		if len(c.Cluster.Routes) != 2 || c.SyncInterval != "always" || c.Auth == "" || c.ServiceCreds == "" || c.TLS == nil || c.Cluster.TLS == nil || c.HTTPTLS == nil || c.InsecureNoAuth || c.InsecureNoTLS {
			t.Fatalf("deploy/node-%d.yaml: want 2 routes, sync_interval always, auth, service_creds, tls, cluster.tls and http_tls, got %+v", i+1, c)
		}
		c.Listen = fmt.Sprintf("127.0.0.1:%d", ports[3*i])
		c.Cluster.Listen = fmt.Sprintf("127.0.0.1:%d", ports[3*i+1])
		c.Cluster.Advertise = c.Cluster.Listen
		c.HTTP = fmt.Sprintf("127.0.0.1:%d", ports[3*i+2])
		c.Cluster.Routes = nil
		for j := 0; j < 3; j++ {
			if j != i {
				c.Cluster.Routes = append(c.Cluster.Routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*j+1]))
			}
		}
		c.StoreDir = filepath.Join(dir, c.Name)
		// /etc/tocsin/auth on the machine is KEYS/nodes/<name> here.
		lc.configs = append(lc.configs, writeLoopbackConfig(t, dir, lc.keys, &c))
		lc.urls = append(lc.urls, "nats://"+c.Listen)
		lc.httpAddrs = append(lc.httpAddrs, c.HTTP)
	}
	return lc
}

// httpsGet GETs url from a node's HTTP face (HTTPS, http_tls of the
// deploy configs), trusting the CA of tocsin init.
func (lc loopbackCluster) httpsGet(t *testing.T, url string) (int, string) {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(lc.keys, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Three `tocsin node` processes started from the deploy/ configs form one
// cluster; while one is missing, status and /readyz say which.
func TestNodeProcessesFromDeployConfigsFormOneCluster(t *testing.T) {
	lc := loopbackConfigs(t)
	configs, urls, httpAddrs := lc.configs, lc.urls, lc.httpAddrs
	n1 := start(t, "node", "--config", configs[0], "--log-level", "warn")
	n2 := start(t, "node", "--config", configs[1], "--log-level", "warn")
	n1.waitFor(t, "starting", 10*time.Second)
	n2.waitFor(t, "starting", 10*time.Second)

	// Two of three: a meta leader, but node 3's route is missing and says so.
	pollStatus(t, urls[0], 30*time.Second, func(st statusJSON) error {
		if st.MetaLeader == "" {
			return fmt.Errorf("no meta leader yet")
		}
		for _, p := range st.Problems {
			if strings.Contains(p, strings.TrimPrefix(urls[2], "nats://")) || strings.Contains(p, "not connected") {
				return nil
			}
		}
		return fmt.Errorf("problems do not name the missing route: %v", st.Problems)
	}, lc.client()...)
	code, body := lc.httpsGet(t, "https://"+httpAddrs[0]+"/readyz")
	if code == http.StatusOK && !strings.Contains(body, "degraded") || !strings.Contains(body, "not connected") && !strings.Contains(body, "provisioning") {
		t.Fatalf("/readyz with a peer missing: %d %q, want it to say what is missing", code, body)
	}

	n3 := start(t, "node", "--config", configs[2], "--log-level", "warn")
	_ = n3
	st := pollStatus(t, urls[2], 60*time.Second, func(st statusJSON) error {
		up := 0
		for _, n := range st.Nodes {
			if n.Up {
				up++
			}
		}
		if up != 3 || st.MetaLeader == "" {
			return fmt.Errorf("%d nodes up, meta leader %q", up, st.MetaLeader)
		}
		if len(st.Streams) == 0 {
			return fmt.Errorf("no streams yet")
		}
		for _, s := range st.Streams {
			if s.Replicas != 3 || s.Leader == "" {
				return fmt.Errorf("stream %s: %d replicas, leader %q", s.Name, s.Replicas, s.Leader)
			}
		}
		return nil
	}, lc.client()...)
	if len(st.Nodes) != 3 {
		t.Fatalf("want 3 nodes, got %+v", st.Nodes)
	}
	for _, a := range httpAddrs {
		testwait.For(t, 30*time.Second, a+"/readyz ready", func() error {
			if code, body := lc.httpsGet(t, "https://"+a+"/readyz"); code != http.StatusOK || strings.TrimSpace(body) != "ready" {
				return fmt.Errorf("%d %q", code, body)
			}
			return nil
		})
	}
	// Without the CA or without credentials, clients are refused.
	if _, errOut, code := status(t, urls[0], "--creds", filepath.Join(lc.keys, "admin.creds")); code != 3 {
		t.Fatalf("status without --tls-ca: exit %d, want 3: %s", code, errOut)
	}
	if _, errOut, code := status(t, urls[0], "--tls-ca", filepath.Join(lc.keys, "tls", "ca.pem")); code != 3 {
		t.Fatalf("status without credentials: exit %d, want 3: %s", code, errOut)
	}
	admitAndRevoke(t, lc)
	n2.stop(t)
}

// admitAndRevoke admits a member with the keys of tocsin init (the first
// admin's record is seeded then), connects as it, and revokes it: the
// nodes, separate processes, cut it off.
func admitAndRevoke(t *testing.T, lc loopbackCluster) {
	t.Helper()
	creds := filepath.Join(t.TempDir(), "st-luke.creds")
	admin := append([]string{"--server", strings.Join(lc.urls, ","), "--keys", lc.keys, "--timeout", "30s"}, lc.client()...)
	if out, errOut, code := run(t, 60*time.Second, append([]string{"members", "add", "--id", "st-luke", "--name", "St. Luke's",
		"--sectors", "patient-care", "--region", "northeast", "--out", creds}, admin...)...); code != 0 || !strings.Contains(out, "applied on 3 nodes") {
		t.Fatalf("members add: exit %d\n%s%s", code, out, errOut)
	}
	closed := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Options{Servers: lc.urls[2], CredsFile: creds,
		NATS: []nats.Option{nats.RootCAs(filepath.Join(lc.keys, "tls", "ca.pem")), nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(closed) })}})
	if err != nil {
		t.Fatalf("the new member connects to node 3: %v", err)
	}
	defer c.Close()
	if _, err := c.JetStream().Consumer(ctx, subjects.StreamSectors, auth.SectorConsumer("st-luke", "patient-care")); err != nil {
		t.Fatalf("the new member's consumer: %v", err)
	}
	if out, errOut, code := run(t, 60*time.Second, append([]string{"members", "revoke", "st-luke"}, admin...)...); code != 0 {
		t.Fatalf("members revoke: exit %d\n%s%s", code, out, errOut)
	}
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the revoked member's connection to node 3 is still open after 20s")
	}
}
