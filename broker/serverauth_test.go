package broker_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func TestApplyAuthMakesAnOperatorModeServer(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	so := &server.Options{}
	sa := a.ServerAuth(nil)
	if err := broker.ApplyAuth(sa, so, store, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { so.AccountResolver.Close() })
	if len(so.TrustedOperators) != 1 || so.SystemAccount != a.SystemAccount() || so.NoAuthUser != "" {
		t.Fatalf("options: operators %d, system account %q, no_auth_user %q", len(so.TrustedOperators), so.SystemAccount, so.NoAuthUser)
	}
	if _, ok := so.AccountResolver.(*server.DirAccResolver); !ok {
		t.Fatalf("resolver %T, want the full directory resolver", so.AccountResolver)
	}
	for _, acc := range []string{a.SystemAccount(), a.Account()} {
		if _, err := os.Stat(filepath.Join(store, auth.DefaultResolverDir, acc+".jwt")); err != nil {
			t.Fatalf("preload of %s not in the resolver dir: %v", acc, err)
		}
	}
	if got := (&auth.ServerAuth{ResolverDir: "accounts"}).ResolverPath(store); got != filepath.Join(store, "accounts") {
		t.Fatalf("relative resolver dir: %s", got)
	}
}

func TestApplyAuthKeepsANewerPushedJWT(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Issue times are in seconds: the newer JWT must carry a later one, as
	// after a push followed by a restart with the old preloads.
	old := a.InitialAccountJWTs()
	testwait.For(t, 5*time.Second, "the clock past the initial JWTs' second", testwait.True(func() bool { return time.Now().Unix() > mustIssuedAt(t, old[0]) }))
	newer, err := a.AccountJWTs([]*tocsinv1.Member{{Id: "st-mary", Sectors: []string{"patient-care"}, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}})
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	first := &server.Options{}
	if err := broker.ApplyAuth(a.ServerAuth(newer), first, store, 0); err != nil {
		t.Fatal(err)
	}
	first.AccountResolver.Close()
	second := &server.Options{}
	if err := broker.ApplyAuth(a.ServerAuth(old), second, store, 0); err != nil {
		t.Fatal(err)
	}
	defer second.AccountResolver.Close()
	got, err := second.AccountResolver.Fetch(a.Account())
	if err != nil {
		t.Fatal(err)
	}
	if got != newer[0] {
		t.Fatal("an older preload replaced the newer account JWT in the resolver")
	}
}

func mustIssuedAt(t *testing.T, token string) int64 {
	t.Helper()
	c, err := jwt.DecodeGeneric(token)
	if err != nil {
		t.Fatal(err)
	}
	return c.IssuedAt
}

func TestApplyAuthRefusesUnsafeOrForeignSettings(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := a.ServerAuth(nil)
	cases := map[string]struct {
		sa   *auth.ServerAuth
		opts server.Options
	}{
		"no operator jwt":                    {&auth.ServerAuth{}, server.Options{}},
		"garbled operator jwt":               {&auth.ServerAuth{OperatorJWT: "x"}, server.Options{}},
		"another system account":             {&auth.ServerAuth{OperatorJWT: good.OperatorJWT, SystemAccount: foreign.SystemAccount()}, server.Options{}},
		"another operator's account":         {&auth.ServerAuth{OperatorJWT: good.OperatorJWT, AccountJWTs: foreign.InitialAccountJWTs()}, server.Options{}},
		"no_auth_user (GHSA-38x3-76xf-cq45)": {good, server.Options{NoAuthUser: "st-mary"}},
		"websocket no_auth_user":             {good, server.Options{Websocket: server.WebsocketOpts{NoAuthUser: "st-mary"}}},
		"mqtt no_auth_user":                  {good, server.Options{MQTT: server.MQTTOpts{NoAuthUser: "st-mary"}}},
		"configured users":                   {good, server.Options{Users: []*server.User{{Username: "u", Password: "p"}}}},
		"a token":                            {good, server.Options{Authorization: "secret"}},
	}
	for name, c := range cases {
		so := c.opts
		if err := broker.ApplyAuth(c.sa, &so, t.TempDir(), 0); !errors.Is(err, auth.ErrServerAuth) {
			t.Errorf("%s: %v, want ErrServerAuth", name, err)
		}
		if so.AccountResolver != nil {
			so.AccountResolver.Close()
			t.Errorf("%s: refused, yet a resolver was installed", name)
		}
	}
}
