package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/server"
)

// regionNodes are the nodes of deploy/regions/ on loopback: each region's
// node 1 config is the template of its others.
var regionNodes = []struct{ name, region, template string }{
	{"east-1", "east", "east-1"}, {"east-2", "east", "east-1"}, {"east-3", "east", "east-1"},
	{"west-1", "west", "west-1"}, {"west-2", "west", "west-1"}, {"west-3", "west", "west-1"},
	{"witness-1", "witness", "witness-1"},
}

// supercluster is what regionConfigs made: each node's config, client URL
// and region, and the keys of tocsin init.
type supercluster struct {
	configs, urls, regions []string
	keys                   string
}

// regionURLs are the client URLs of a region's nodes, comma-joined.
func (sc supercluster) regionURLs(region string) string {
	var urls []string
	for i, r := range sc.regions {
		if r == region {
			urls = append(urls, sc.urls[i])
		}
	}
	return strings.Join(urls, ",")
}

// regionConfigs runs tocsin init for the 7 nodes and moves the deploy/regions
// configs onto loopback: free ports, temporary store dirs, routes and
// gateways rewritten, the auth and TLS files of the init.
func regionConfigs(t *testing.T) supercluster {
	t.Helper()
	ports := freePorts(t, 4*len(regionNodes))
	port := func(i, k int) string { return fmt.Sprintf("127.0.0.1:%d", ports[4*i+k]) } // k: client, route, gateway, http
	dir := t.TempDir()
	sc := supercluster{keys: filepath.Join(dir, "keys")}
	var names []string
	for _, n := range regionNodes {
		names = append(names, n.name)
	}
	if out, errOut, code := run(t, 60*time.Second, "init", "--dir", sc.keys, "--nodes", strings.Join(names, ","), "--tls-hosts", "127.0.0.1,localhost"); code != 0 {
		t.Fatalf("tocsin init: exit %d\n%s%s", code, out, errOut)
	}
	for i, n := range regionNodes {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "regions", n.template+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var c server.NodeConfig
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("deploy/regions/%s.yaml: %v", n.template, err)
		}
		g := c.Gateway
		if c.ClusterName != n.region || g == nil || g.StreamsRegion != "east" || g.TLS == nil || len(g.Gateways) != 2 || c.Auth == "" || c.TLS == nil || c.Cluster.TLS == nil || c.SyncInterval != "always" {
			t.Fatalf("deploy/regions/%s.yaml: want region %s, streams in east, gateway TLS, 2 other regions, auth, tls, cluster.tls, sync always; got %+v", n.template, n.region, c)
		}
		c.Name = n.name
		c.Listen, c.HTTP = port(i, 0), port(i, 3)
		c.Cluster.Listen, c.Cluster.Advertise = port(i, 1), port(i, 1)
		g.Listen, g.Advertise = port(i, 2), port(i, 2)
		c.Cluster.Routes = nil
		for j, o := range regionNodes {
			if j != i && o.region == n.region {
				c.Cluster.Routes = append(c.Cluster.Routes, "nats-route://"+port(j, 1))
			}
		}
		for k := range g.Gateways {
			g.Gateways[k].URLs = nil
			for j, o := range regionNodes {
				if o.region == g.Gateways[k].Name {
					g.Gateways[k].URLs = append(g.Gateways[k].URLs, "nats://"+port(j, 2))
				}
			}
		}
		c.StoreDir = filepath.Join(dir, c.Name)
		sc.configs = append(sc.configs, writeLoopbackConfig(t, dir, sc.keys, &c))
		sc.urls = append(sc.urls, "nats://"+c.Listen)
		sc.regions = append(sc.regions, n.region)
	}
	return sc
}

// writeLoopbackConfig points c's auth and TLS files (/etc/tocsin/auth on a
// machine) at the node's directory of tocsin init in keys, writes it to
// dir/<name>.yaml and returns the path.
func writeLoopbackConfig(t *testing.T, dir, keys string, c *server.NodeConfig) string {
	t.Helper()
	nodeDir := filepath.Join(keys, "nodes", c.Name)
	onLoopback := func(p string) string { return strings.Replace(p, "/etc/tocsin/auth", nodeDir, 1) }
	c.Auth, c.ServiceCreds = onLoopback(c.Auth), onLoopback(c.ServiceCreds)
	files := []*server.TLSConfig{c.TLS, c.Cluster.TLS, c.HTTPTLS}
	if c.Gateway != nil {
		files = append(files, c.Gateway.TLS)
	}
	for _, tc := range files {
		if tc != nil {
			tc.Cert, tc.Key, tc.CA = onLoopback(tc.Cert), onLoopback(tc.Key), onLoopback(tc.CA)
		}
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, c.Name+".yaml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var alertID = regexp.MustCompile(`\(id ([^,)]+)`)

// Two regions of three `tocsin node` processes and a witness, from the
// deploy/regions configs: a flash alert published in west reaches an agent
// in east; killing west whole loses no acknowledged message of east's, east's
// members keep receiving east's alerts, west's member fails over to east
// (its agent lists both regions), and a member can still be admitted
// (its consumers created: the meta group keeps 4 of its 7 peers).
func TestRegionsSuperclusterSurvivesARegionsLoss(t *testing.T) {
	sc := regionConfigs(t)
	nodes := make([]*proc, len(sc.configs))
	for i, cfg := range sc.configs {
		nodes[i] = start(t, "node", "--config", cfg, "--log-level", "warn")
	}
	ca := filepath.Join(sc.keys, "tls", "ca.pem")
	east, west := sc.regionURLs("east"), sc.regionURLs("west")
	admin := []string{"--creds", filepath.Join(sc.keys, "admin.creds"), "--tls-ca", ca}
	pollStatus(t, east, 3*time.Minute, func(st statusJSON) error {
		up := 0
		for _, n := range st.Nodes {
			if n.Up {
				up++
			}
		}
		if up != len(regionNodes) || st.MetaLeader == "" || len(st.Streams) == 0 {
			return fmt.Errorf("%d nodes up, meta leader %q, %d streams", up, st.MetaLeader, len(st.Streams))
		}
		for _, s := range st.Streams {
			if s.Replicas != 3 || s.Leader == "" || !strings.HasPrefix(s.Leader, "east-") {
				return fmt.Errorf("stream %s: %d replicas, leader %q; want 3 in east", s.Name, s.Replicas, s.Leader)
			}
		}
		return nil
	}, admin...)

	dir := t.TempDir()
	creds := func(m string) string { return filepath.Join(dir, m+".creds") }
	// addMember admits id within a bound: after a region's loss the meta group
	// elects a leader and places the consumers before it can finish, which
	// took over 60 s under -race beside the whole suite.
	addMember := func(id, servers string, within time.Duration) {
		t.Helper()
		args := append([]string{"members", "add", "--id", id, "--name", id, "--sectors", "patient-care", "--region", "northeast",
			"--out", creds(id), "--server", servers, "--keys", sc.keys, "--timeout", within.String()}, admin...)
		if out, errOut, code := run(t, within+time.Minute, args...); code != 0 {
			t.Fatalf("members add %s: exit %d\n%s%s", id, code, out, errOut)
		}
	}
	for _, m := range []string{"st-mary", "riverside", "valley-general"} {
		addMember(m, east+","+west, time.Minute)
	}
	sink := filepath.Join(dir, "riverside.jsonl")
	start(t, "agent", "--creds", creds("riverside"), "--state", filepath.Join(dir, "agent-riverside"), "--sink", "jsonl:"+sink,
		"--server", east, "--tls-ca", ca)
	// St. Mary's, a member of west, lists its region's nodes and east's:
	// when west is lost its agent fails over to east.
	westSink := filepath.Join(dir, "st-mary.jsonl")
	start(t, "agent", "--creds", creds("st-mary"), "--state", filepath.Join(dir, "agent-st-mary"), "--sink", "jsonl:"+westSink,
		"--server", west+","+east, "--tls-ca", ca)

	n := 0
	publish := func(member, servers, lane string) string {
		t.Helper()
		n++
		bundle := filepath.Join(dir, fmt.Sprintf("alert-%d.json", n))
		b := fmt.Sprintf(`{"type":"bundle","id":"bundle--6d0092c5-5f74-4287-9642-33f4c354e%03d","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3c%03d","created":"2026-11-24T02:14:00.000Z","modified":"2026-11-24T02:14:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-11-24T02:14:00Z"}]}`, n, n, n)
		if err := os.WriteFile(bundle, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := run(t, 2*time.Minute, "alert", "publish", "--creds", creds(member), "--file", bundle, "--sectors", "patient-care",
			"--lane", lane, "--tlp", "green", "--wait", "--timeout", "60s", "--server", servers, "--tls-ca", ca)
		m := alertID.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("%s publishes through %s: exit %d\n%s%s", member, servers, code, out, errOut)
		}
		return m[1]
	}
	delivered := func(sink string, ids ...string) {
		t.Helper()
		testwait.For(t, 90*time.Second, filepath.Base(sink)+" records "+strings.Join(ids, ", "), func() error {
			b, _ := os.ReadFile(sink)
			for _, id := range ids {
				if !strings.Contains(string(b), id) {
					return fmt.Errorf("%s not in the sink yet", id)
				}
			}
			return nil
		})
	}
	flash := publish("st-mary", west, "flash")
	before := publish("valley-general", east, "urgent")
	delivered(sink, flash, before)
	delivered(westSink, before)

	// West lost whole: its three processes killed at once.
	for i, r := range sc.regions {
		if r == "west" {
			_ = nodes[i].cmd.Process.Kill()
			<-nodes[i].done
		}
	}
	after := publish("valley-general", east, "flash")
	delivered(sink, flash, before, after)
	delivered(westSink, before, after)
	t.Logf("flash %s from west, %s and %s from east (after west's loss) recorded by east's agent; west's agent failed over to east", flash, before, after)
	// The meta group kept its quorum: a member admitted now gets its consumers.
	addMember("hilltop", east, 3*time.Minute)
}
