package broker

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/auth"
)

func testAuthority(t *testing.T) *auth.Authority {
	t.Helper()
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNodeOptionsRejectUnusableAuth(t *testing.T) {
	opts := NodeOptions{Name: "n1", StoreDir: t.TempDir(), Standalone: true, Port: RandomPort, Auth: &auth.ServerAuth{}}
	_, err := NewNode(opts, zaptest.NewLogger(t))
	if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "auth") {
		t.Fatalf("NewNode with an empty ServerAuth: %v, want ErrInvalidOptions naming auth", err)
	}
}

func TestServerOptionsApplyAuth(t *testing.T) {
	a := testAuthority(t)
	o := NodeOptions{Name: "n1", StoreDir: t.TempDir(), Auth: a.ServerAuth(nil)}.withDefaults()
	so, err := o.serverOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.AccountResolver.Close()
	if len(so.TrustedOperators) != 1 || so.SystemAccount != a.SystemAccount() || so.NoAuthUser != "" || so.AccountResolver == nil {
		t.Fatalf("operators %d, system account %q, no_auth_user %q, resolver %v",
			len(so.TrustedOperators), so.SystemAccount, so.NoAuthUser, so.AccountResolver)
	}
	if got := o.Auth.ResolverPath(o.StoreDir); got != filepath.Join(o.StoreDir, auth.DefaultResolverDir) {
		t.Fatalf("resolver dir %s, want inside the store dir", got)
	}
	// Without Auth nothing of operator mode is set.
	o.Auth = nil
	if so, err := o.serverOptions(); err != nil || so.AccountResolver != nil || len(so.TrustedOperators) != 0 {
		t.Fatalf("no auth: resolver %v operators %d err %v", so.AccountResolver, len(so.TrustedOperators), err)
	}
}

func TestNodeWithAuthLetsInOnlyCredentials(t *testing.T) {
	a := testAuthority(t)
	n, err := NewNode(NodeOptions{Name: "n1", StoreDir: t.TempDir(), Standalone: true, Port: RandomPort, Auth: a.ServerAuth(nil)}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Shutdown)
	if nc, err := nats.Connect(n.ClientURL(), nats.NoReconnect()); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous connection: %v, want an authorization violation", err)
	}
	creds, err := a.IssueService("provisioner")
	if err != nil {
		t.Fatal(err)
	}
	opt, err := auth.CredsOption(creds)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(n.ClientURL(), opt)
	if err != nil {
		t.Fatalf("service connection: %v", err)
	}
	t.Cleanup(nc.Close)
	// Services may also connect in-process.
	inproc, err := nats.Connect("", opt, nats.InProcessServer(n.Server()))
	if err != nil {
		t.Fatalf("in-process service connection: %v", err)
	}
	inproc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Provision(ctx, js, 1); err != nil {
		t.Fatalf("provision in the TOCSIN account: %v", err)
	}
	jsz, err := n.Server().Jsz(&server.JSzOptions{Account: a.Account(), Streams: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(jsz.AccountDetails) != 1 || len(jsz.AccountDetails[0].Streams) != len(StreamNames()) {
		t.Fatalf("TOCSIN account holds %+v, want every stream", jsz.AccountDetails)
	}
}
