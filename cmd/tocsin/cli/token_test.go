package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/internal/freeport"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/server"
)

// realCluster is three `tocsin node` servers in this process, configured
// as deploy/ configures real machines: the keys and certificates of tocsin
// init, operator mode, TLS on clients and routes, and HTTPS on each node's
// HTTP face with the node's certificate (http_tls). Its devCluster runs
// the CLI as the admin of tocsin init.
type realCluster struct {
	*devCluster
	urls  []string // the nodes' client URLs
	https []string // the nodes' HTTP faces, https://HOST:PORT
}

// startRealCluster runs tocsin init, writes the three node configs and
// starts the nodes; it returns once every node is ready.
func startRealCluster(t *testing.T) *realCluster {
	t.Helper()
	start := time.Now()
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	rc := &realCluster{devCluster: &devCluster{t: t, keys: keys, ca: filepath.Join(keys, tlsDir, "ca.pem"), creds: filepath.Join(keys, "admin.creds")}}
	names := []string{"tocsin-1", "tocsin-2", "tocsin-3"}
	if _, err := initAuthority(rc.keys, names, "admin", []string{"127.0.0.1", "localhost"}); err != nil {
		t.Fatal(err)
	}
	ports, err := freeport.Pick("127.0.0.1", 3*len(names))
	if err != nil {
		t.Fatal(err)
	}
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	var opts []server.Options
	for i, name := range names {
		nodeDir := filepath.Join(rc.keys, nodesDir, name)
		files := &server.TLSConfig{Cert: filepath.Join(nodeDir, "tls", "cert.pem"), Key: filepath.Join(nodeDir, "tls", "key.pem"), CA: filepath.Join(nodeDir, "tls", "ca.pem")}
		var c server.NodeConfig
		c.Name, c.StoreDir, c.Auth, c.ServiceCreds = name, filepath.Join(dir, name), nodeDir, filepath.Join(nodeDir, serviceCredsFile)
		c.Listen, c.Cluster.Listen, c.HTTP = addr(3*i), addr(3*i+1), addr(3*i+2)
		c.TLS, c.Cluster.TLS, c.HTTPTLS = files, files, &server.TLSConfig{Cert: files.Cert, Key: files.Key}
		for j := range names {
			if j != i {
				c.Cluster.Routes = append(c.Cluster.Routes, "nats-route://"+addr(3*j+1))
			}
		}
		data, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := server.LoadNodeConfig(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		opts = append(opts, o)
		rc.urls = append(rc.urls, "nats://"+c.Listen)
	}
	ready := make(chan *server.Server, len(names))
	failed := make(chan error, len(names))
	for i, o := range opts {
		ctx, cancel := context.WithCancel(context.Background())
		o.OnReady = func(s *server.Server) { ready <- s }
		s, err := server.New(ctx, o, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(names[i]))
		if err != nil {
			cancel()
			t.Fatalf("node %s: %v", names[i], err)
		}
		rc.https = append(rc.https, s.HTTPURL())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := s.Main(ctx); err != nil {
				failed <- fmt.Errorf("node %s: %w", names[i], err)
			}
		}()
		t.Cleanup(func() {
			cancel()
			<-done
			s.Exit()
		})
	}
	for range names {
		select {
		case <-ready:
		case err := <-failed:
			t.Fatal(err)
		case <-time.After(150 * time.Second):
			t.Fatal("the cluster was not ready after 150s")
		}
	}
	rc.url = strings.Join(rc.urls, ",")
	t.Logf("3 nodes ready in %s", time.Since(start).Round(time.Millisecond))
	return rc
}

// httpsClient trusts the cluster's CA only.
func (rc *realCluster) httpsClient() *http.Client {
	rc.t.Helper()
	pem, err := os.ReadFile(rc.ca)
	if err != nil {
		rc.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// get GETs url as member with token (HTTP Basic; none when token is "")
// and with cookies; it returns the status and body, or the error.
func get(c *http.Client, url, member, token string, cookies ...*http.Cookie) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	if token != "" {
		req.SetBasicAuth(member, token)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// On a real 3-node cluster (tocsin init's keys and certificates, HTTPS
// from http_tls): an admin issues a member an access token with tocsin
// token; every node's TAXII server accepts it over HTTPS, and a console
// session opened on one node works on the others; plain HTTP and a client
// that does not trust the CA get nowhere; a revoke takes effect on every
// node within seconds, sessions included.
func TestTokensAcrossARealClusterOverHTTPS(t *testing.T) {
	rc := startRealCluster(t)
	creds := filepath.Join(t.TempDir(), "st-luke.creds")
	rc.must("members", "add", "--id", "st-luke", "--name", "St. Luke's", "--sectors", "patient-care", "--region", "northeast", "--out", creds)

	// Exit codes of tocsin token.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "issue"}, ExitUsage, "--member"},
		{[]string{"token", "issue", "--member", "st-luke", "--ttl", "soon"}, ExitUsage, "--ttl"},
		{[]string{"token", "issue", "--member", "nobody"}, ExitRejected, "no member"},
		{[]string{"token", "issue", "--member", "svc-tocsin-1"}, ExitRejected, "service"},
		{[]string{"token", "revoke", "st-luke.0000"}, ExitRejected, "no such access token"},
		{[]string{"token", "revoke"}, ExitUsage, "TOKEN_ID"},
	} {
		if code, out, errOut := rc.cli(tc.args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("tocsin %s: exit %d, want %d naming %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out, errOut)
		}
	}
	var errOut bytes.Buffer
	if code := Main([]string{"token", "list", "--server", "nats://127.0.0.1:1", "--creds", filepath.Join(rc.keys, "admin.creds"), "--timeout", "2s"}, io.Discard, &errOut); code != ExitUnreachable {
		t.Errorf("token list against no cluster: exit %d, want %d: %s", code, ExitUnreachable, errOut.String())
	}
	// A member's credentials do not reach the tokens. The server refuses
	// the publish without answering the request, so the client sees a
	// timeout (as with every admin command).
	errOut.Reset()
	if code := Main([]string{"token", "list", "--server", rc.urls[0], "--tls-ca", rc.ca, "--creds", creds, "--timeout", "3s"}, io.Discard, &errOut); code != ExitRejected && code != ExitTimeout || !strings.Contains(errOut.String(), "admin") {
		t.Errorf("token list as a member: exit %d, want it refused, asking for an admin's credentials: %s", code, errOut.String())
	}

	var issued tokenJSON
	if err := json.Unmarshal([]byte(rc.must("token", "issue", "--member", "st-luke", "--label", "misp feed", "--json")), &issued); err != nil {
		t.Fatal(err)
	}
	if issued.Member != "st-luke" || !strings.HasPrefix(issued.Token, "tat1.st-luke.") || issued.ID != tokenID(issued.Token) {
		t.Fatalf("issued: %+v", issued)
	}
	if exp, err := time.Parse(time.RFC3339, issued.Expires); err != nil || time.Until(exp) < 89*24*time.Hour || time.Until(exp) > 91*24*time.Hour {
		t.Fatalf("the default lifetime: expires %q (%v), want in 90 days", issued.Expires, err)
	}
	list := rc.must("token", "list", "--member", "st-luke")
	if !strings.Contains(list, issued.ID) || !strings.Contains(list, "misp feed") || strings.Contains(list, issued.Token) {
		t.Fatalf("token list shows the token without its secret:\n%s", list)
	}

	// St. Luke's publishes an alert; it is routed to patient-care.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, client.Options{Servers: strings.Join(rc.urls, ","), CredsFile: creds, NATS: []nats.Option{nats.RootCAs(rc.ca)}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bundle, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "st-mary-ransomware.json"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := c.Publish(ctx, tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "ransomware via vendor VPN", Lane: tocsinv1.Lane_LANE_URGENT,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: bundle, Exercise: true})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := c.WaitOutcome(ctx, env.GetId()); err != nil || o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("outcome %v (%v): %v", o.GetState(), o.GetRejection(), err)
	}

	// Every node: discovery and the sector's objects over HTTPS, with the
	// token; the console session opened on node 1 works everywhere.
	hc := rc.httpsClient()
	var session *http.Cookie
	{
		body := strings.NewReader(`{"member":"st-luke","token":"` + issued.Token + `"}`)
		req, _ := http.NewRequest(http.MethodPost, rc.https[0]+"/console/api/login", body)
		req.Header.Set("X-Tocsin-Console", "1")
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			if ck.Name == "tocsin_session" {
				session = ck
			}
		}
		if resp.StatusCode != http.StatusOK || session == nil || !session.Secure {
			t.Fatalf("console login on node 1: %d, cookie %+v", resp.StatusCode, session)
		}
	}
	objects := "/taxii2/tocsin/collections/sector-patient-care/objects/"
	for _, base := range rc.https {
		code, body, err := get(hc, base+"/taxii2/", "st-luke", issued.Token)
		if err != nil || code != http.StatusOK || !strings.Contains(body, `"`+base+`/taxii2/tocsin/"`) {
			t.Fatalf("%s/taxii2/: %d %v %s", base, code, err, body)
		}
		took := testwait.For(t, 30*time.Second, base+" serving the alert's objects", func() error {
			code, body, err := get(hc, base+objects, "st-luke", issued.Token)
			if err != nil || code != http.StatusOK || !strings.Contains(body, `"indicator--`) {
				return fmt.Errorf("%d %v %.200s", code, err, body)
			}
			return nil
		})
		t.Logf("%s: objects over https (%s after the outcome)", base, took.Round(time.Millisecond))
		if code, body, err := get(hc, base+"/console/api/me", "", "", session); err != nil || code != http.StatusOK || !strings.Contains(body, `"st-luke"`) {
			t.Fatalf("%s: the session of node 1: %d %v %s", base, code, err, body)
		}
	}

	// Every node's /metrics, over HTTPS: the routers' work, summed over
	// the nodes (the one that took the alert from the shared consumer).
	var handled float64
	parser := expfmt.NewTextParser(model.UTF8Validation)
	for _, base := range rc.https {
		code, body, err := get(hc, base+"/metrics", "", "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("%s/metrics: %d %v", base, code, err)
		}
		fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s/metrics: %v", base, err)
		}
		for _, m := range fams["tocsin_router_handled_total"].GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == "alert" && labels["result"] == "done" {
				handled += m.GetCounter().GetValue()
			}
		}
	}
	if handled < 1 {
		t.Fatalf("the nodes' routers handled %v alerts, want at least 1", handled)
	}

	// Plain HTTP with credentials: refused, saying why.
	plainURL := strings.Replace(rc.https[1], "https://", "http://", 1) + objects
	if code, body, err := get(&http.Client{Timeout: 10 * time.Second}, plainURL, "st-luke", issued.Token); err != nil || code != http.StatusBadRequest || !strings.Contains(body, "HTTPS") {
		t.Fatalf("plain http with credentials: %d %v %q, want 400 saying to use HTTPS", code, err, body)
	}
	// A client that does not trust the cluster's CA: no connection.
	if _, _, err := get(&http.Client{Timeout: 10 * time.Second}, rc.https[2]+objects, "st-luke", issued.Token); err == nil || !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Fatalf("a client without the CA: %v, want a certificate verification error", err)
	}

	// Revoke: every node refuses the token and the session within seconds.
	start := time.Now()
	if out := rc.must("token", "revoke", issued.ID); !strings.Contains(out, "revoked "+issued.ID) {
		t.Fatalf("revoke: %s", out)
	}
	revoked := time.Since(start)
	for i, base := range rc.https {
		// Within 3s: sooner than the 5s a node caches a token record, so
		// it is each node's watch of the bucket that ends it.
		took := testwait.For(t, 3*time.Second, fmt.Sprintf("node %d refusing the revoked token", i+1), func() error {
			if code, _, err := get(hc, base+objects, "st-luke", issued.Token); err != nil || code != http.StatusUnauthorized {
				return fmt.Errorf("token: %d %v", code, err)
			}
			if code, _, err := get(hc, base+"/console/api/me", "", "", session); err != nil || code != http.StatusUnauthorized {
				return fmt.Errorf("session: %d %v", code, err)
			}
			return nil
		})
		t.Logf("%s refuses the revoked token and its session %s after tocsin token revoke returned (%s)", base, took.Round(time.Millisecond), revoked.Round(time.Millisecond))
	}
	testwait.For(t, 10*time.Second, "the revoked token to leave tocsin token list", func() error {
		if out := rc.must("token", "list", "--json"); strings.Contains(out, issued.ID) {
			return fmt.Errorf("still listed:\n%s", out)
		}
		return nil
	})
}
