package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/server"
)

// loopbackConfigs reads deploy/node-{1,2,3}.yaml and moves them onto
// loopback: free ports, temporary store dirs, routes rewritten.
func loopbackConfigs(t *testing.T) (paths []string, clientURLs, httpAddrs []string) {
	t.Helper()
	ports := freePorts(t, 9)
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", fmt.Sprintf("node-%d.yaml", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		var c server.NodeConfig
		if err := yaml.Unmarshal(data, &c); err != nil {
			t.Fatalf("deploy/node-%d.yaml: %v", i+1, err)
		}
		if len(c.Cluster.Routes) != 2 || c.SyncInterval != "always" {
			t.Fatalf("deploy/node-%d.yaml: want 2 routes and sync_interval always, got %+v", i+1, c)
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
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, c.Name+".yaml")
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		clientURLs = append(clientURLs, "nats://"+c.Listen)
		httpAddrs = append(httpAddrs, c.HTTP)
	}
	return paths, clientURLs, httpAddrs
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
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
	configs, urls, httpAddrs := loopbackConfigs(t)
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
	})
	code, body := httpGet(t, "http://"+httpAddrs[0]+"/readyz")
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
	})
	if len(st.Nodes) != 3 {
		t.Fatalf("want 3 nodes, got %+v", st.Nodes)
	}
	for _, a := range httpAddrs {
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body := httpGet(t, "http://"+a+"/readyz")
			if code == http.StatusOK && strings.TrimSpace(body) == "ready" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/readyz: %d %q", a, code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	n2.stop(t)
}
