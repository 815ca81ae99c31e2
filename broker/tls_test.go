package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

var loopback = []string{"127.0.0.1", "localhost"}

// testTLS writes a new CA and a loopback certificate signed by it.
func testTLS(t *testing.T) *TLSOptions {
	t.Helper()
	ca, err := NewCA("test ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o, err := ca.WriteCertFiles(t.TempDir(), "node", loopback, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// startTLSCluster starts two nodes with client TLS and route mutual TLS.
func startTLSCluster(t *testing.T, files *TLSOptions) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, ClusterOptions{Nodes: 2, DataDir: t.TempDir(), BasePort: RandomPort,
		Configure: func(_ int, o *NodeOptions) {
			client := *files
			o.TLS, o.ClusterTLS = &client, files
		}}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("start cluster with tls: %v", err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

// readInfo dials addr and reads the server's plain-text INFO line.
func readInfo(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read INFO from %s: %v", addr, err)
	}
	return conn, line
}

// routeHandshake dials a route listener (TLS comes first there, before
// INFO) with cfg and reads the INFO that follows: a refused peer gets an
// error instead.
func routeHandshake(t *testing.T, addr string, cfg *tls.Config) (string, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return "", err
	}
	return bufio.NewReader(tc).ReadString('\n')
}

func certPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s: no certificate", path)
	}
	return pool
}

// Routes need the cluster's certificate: a peer with none, or with one of
// another CA, is refused at the handshake; the nodes with it form the
// cluster.
func TestRoutesRefuseAPeerWithoutTheClusterCertificate(t *testing.T) {
	files := testTLS(t)
	c := startTLSCluster(t, files)
	routeAddr := c.Node(0).Server().ClusterAddr().String()
	roots := certPool(t, files.CA)
	foreign := testTLS(t)
	foreignCert, err := tls.LoadX509KeyPair(foreign.Cert, foreign.Key)
	if err != nil {
		t.Fatal(err)
	}
	own, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		certs  []tls.Certificate
		accept bool
	}{
		"no client certificate":         {nil, false},
		"certificate of another CA":     {[]tls.Certificate{foreignCert}, false},
		"the cluster's own certificate": {[]tls.Certificate{own}, true},
	}
	for name, tc := range cases {
		info, err := routeHandshake(t, routeAddr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", Certificates: tc.certs})
		if tc.accept && (err != nil || !strings.Contains(info, `"tls_verify":true`)) {
			t.Fatalf("%s: refused (%v) or not verified: %s", name, err, info)
		}
		if !tc.accept && err == nil {
			t.Fatalf("%s: the route listener accepted it and sent %s", name, info)
		}
	}
}

// A whole nats-server without the cluster's certificate, pointed at a
// node's route port, never becomes a route of it.
func TestRogueServerCannotJoinTheRoutes(t *testing.T) {
	files := testTLS(t)
	c := startTLSCluster(t, files)
	routeURL := c.Node(0).ClusterURL()
	for name, rogueTLS := range map[string]*TLSOptions{"plain text": nil, "another CA": testTLS(t)} {
		core, logs := observer.New(zap.DebugLevel)
		rogue, err := NewNode(NodeOptions{Name: "rogue", ClusterName: DefaultClusterName, StoreDir: t.TempDir(),
			Port: RandomPort, ClusterPort: RandomPort, Routes: []string{routeURL}, ClusterTLS: rogueTLS}, zap.New(core))
		if err != nil {
			t.Fatalf("%s: start rogue: %v", name, err)
		}
		t.Cleanup(rogue.Shutdown)
		// Wait until the rogue has tried twice, or joined.
		testwait.For(t, 20*time.Second, name+": the rogue trying the route", testwait.True(func() bool {
			return logs.FilterMessageSnippet("connection closed").Len() >= 2 || routedWith(t, c, rogue) != ""
		}))
		if r := routedWith(t, c, rogue); r != "" {
			rogue.Shutdown()
			t.Fatalf("%s: %s", name, r)
		}
		rogue.Shutdown()
	}
}

// routedWith describes a route between rogue and a node of c, "" if none.
func routedWith(t *testing.T, c *Cluster, rogue *Node) string {
	t.Helper()
	for _, n := range append(c.Nodes(), rogue) {
		rz, err := n.Server().Routez(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rz.Routes {
			if r.RemoteName == "rogue" || (n == rogue && r.RemoteName != "") {
				return fmt.Sprintf("%s has a route to %s", n.Name(), r.RemoteName)
			}
		}
	}
	return ""
}

// Clients must use TLS 1.2 or newer: a plain-text client and a TLS 1.1
// client are refused; a TLS client that trusts the CA connects.
func TestClientsNeedTLS12(t *testing.T) {
	files := testTLS(t)
	c := startTLSCluster(t, files)
	addr := c.Node(0).Server().Addr().String()

	conn, info := readInfo(t, addr)
	if !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("client INFO does not require TLS: %s", info)
	}
	fmt.Fprint(conn, "CONNECT {\"verbose\":false}\r\nPING\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if reply, _ := bufio.NewReader(conn).ReadString('\n'); strings.HasPrefix(reply, "PONG") {
		t.Fatalf("a plain-text client got %q", reply)
	}

	conn, _ = readInfo(t, addr)
	old := tls.Client(conn, &tls.Config{RootCAs: certPool(t, files.CA), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err := old.Handshake(); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("TLS 1.1 handshake: %v, want a protocol version failure", err)
	}

	if _, err := nats.Connect(c.ClientURL(), nats.NoReconnect()); err == nil {
		t.Fatal("a client that does not trust the CA connected")
	}
	nc, err := nats.Connect(c.ClientURL(), nats.RootCAs(files.CA))
	if err != nil {
		t.Fatalf("a client trusting the CA: %v", err)
	}
	defer nc.Close()
	if st, err := nc.TLSConnectionState(); err != nil || st.Version < tls.VersionTLS12 {
		t.Fatalf("connection TLS version %x: %v", st.Version, err)
	}
}

func TestTLSOptionsRefuseUnusableFiles(t *testing.T) {
	files := testTLS(t)
	expired, err := NewCA("old", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key, err := expired.Issue("node", loopback, -2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	old := &TLSOptions{Cert: filepath.Join(dir, "old.pem"), Key: filepath.Join(dir, "old-key.pem"), CA: files.CA}
	for p, d := range map[string][]byte{old.Cert: cert, old.Key: key} {
		if err := os.WriteFile(p, d, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		o         NodeOptions
		wantField string
	}{
		"route tls without ca":   {NodeOptions{ClusterTLS: &TLSOptions{Cert: files.Cert, Key: files.Key}}, "cluster.tls.ca"},
		"client tls without key": {NodeOptions{TLS: &TLSOptions{Cert: files.Cert}}, "tls"},
		"missing cert file":      {NodeOptions{TLS: &TLSOptions{Cert: files.Cert + ".nope", Key: files.Key}}, "tls"},
		"key of another cert":    {NodeOptions{TLS: &TLSOptions{Cert: files.Cert, Key: testTLS(t).Key}}, "tls"},
		"expired certificate":    {NodeOptions{TLS: old}, "valid from"},
		"verify without ca":      {NodeOptions{TLS: &TLSOptions{Cert: files.Cert, Key: files.Key, Verify: true}}, "tls.ca"},
	}
	for name, tc := range cases {
		o := tc.o
		o.Name, o.StoreDir, o.Port, o.ClusterPort = "n1", t.TempDir(), RandomPort, RandomPort
		_, err := NewNode(o, zaptest.NewLogger(t))
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.wantField) {
			t.Errorf("%s: %v, want ErrInvalidOptions naming %q", name, err, tc.wantField)
		}
	}
}

// A node listens for clients and routes only unless told otherwise: no
// leaf node listener without LeafOptions (member sites,
// TestNodeLeafListenerRequiresTLSAndTheHubDomain), no gateway without
// GatewayOptions, never websocket or MQTT; and TLS never maps certificates
// to users (verify_and_map).
func TestNodeListensOnlyForClientsAndRoutes(t *testing.T) {
	files := testTLS(t)
	c := startTLSCluster(t, files)
	for _, n := range c.Nodes() {
		v, err := n.Server().Varz(nil)
		if err != nil {
			t.Fatal(err)
		}
		if v.Port == 0 || v.Cluster.Port == 0 {
			t.Fatalf("%s: client port %d, route port %d: the control is broken", n.Name(), v.Port, v.Cluster.Port)
		}
		if v.LeafNode.Port != 0 || v.Websocket.Port != 0 || v.MQTT.Port != 0 || v.Gateway.Port != 0 {
			t.Fatalf("%s listens on leaf %d, websocket %d, mqtt %d, gateway %d", n.Name(), v.LeafNode.Port, v.Websocket.Port, v.MQTT.Port, v.Gateway.Port)
		}
		if !v.TLSRequired || v.TLSVerify || !v.Cluster.TLSRequired || !v.Cluster.TLSVerify {
			t.Fatalf("%s: clients: tls required %v, verify %v; routes: tls required %v, verify %v, want TLS for both and client certificates for routes only",
				n.Name(), v.TLSRequired, v.TLSVerify, v.Cluster.TLSRequired, v.Cluster.TLSVerify)
		}
	}
	so, err := c.Node(0).Options().serverOptions()
	if err != nil {
		t.Fatal(err)
	}
	if so.TLSMap || so.Cluster.TLSMap || so.NoAuthUser != "" {
		t.Fatalf("tls map %v, route tls map %v, no_auth_user %q", so.TLSMap, so.Cluster.TLSMap, so.NoAuthUser)
	}
}
