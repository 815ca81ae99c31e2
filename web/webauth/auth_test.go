package webauth_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// authEnv is an Authenticator over the test cluster's registry, with
// st-mary's and the service's keys.
type authEnv struct {
	e      *webtest.Env
	auth   *webauth.Authenticator
	tokens *webauth.Tokens
	mary   nkeys.KeyPair
}

func newAuthEnv(t *testing.T, plain bool) *authEnv {
	e := webtest.Start(t, webtest.Options{NoRouter: true})
	ctx := context.Background()
	tokens, err := webauth.OpenTokens(ctx, e.JS)
	if err != nil {
		t.Fatal(err)
	}
	svc, mary := e.Keys[webtest.ServiceID], e.Keys["st-mary"]
	return &authEnv{e: e, tokens: tokens, mary: mary, auth: webauth.New(e.Registry, tokens, svc, webtest.ServiceID, webauth.Options{AllowPlainHTTP: plain, SessionTTL: time.Hour})}
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/taxii2/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestSignedTokens(t *testing.T) {
	a := newAuthEnv(t, true)
	tok, err := webauth.Mint("st-mary", a.mary, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.auth.Authenticate(bearer(tok))
	if err != nil || id.Member.GetId() != "st-mary" || id.Kind != webauth.KindSigned {
		t.Fatalf("a good token: %+v %v", id, err)
	}
	if _, err := webauth.Mint("st-mary", a.mary, 48*time.Hour); err == nil {
		t.Fatal("a 48h signed token was minted")
	}
	// Claiming another member with st-mary's key.
	forged, _ := webauth.Mint("riverside", a.mary, time.Hour)
	if _, err := a.auth.Authenticate(bearer(forged)); !errors.Is(err, webauth.ErrBadCredentials) {
		t.Fatalf("st-mary's key for riverside: %v", err)
	}
	// A key that is no one's.
	stranger, _ := nkeys.CreateUser()
	odd, _ := webauth.Mint("st-mary", stranger, time.Hour)
	if _, err := a.auth.Authenticate(bearer(odd)); !errors.Is(err, webauth.ErrBadCredentials) {
		t.Fatalf("an unregistered key: %v", err)
	}
	// Tampering with the claims breaks the signature.
	parts := strings.Split(tok, ".")
	parts[1] = parts[1][:len(parts[1])-2] + "xx"
	if _, err := a.auth.Authenticate(bearer(strings.Join(parts, "."))); !errors.Is(err, webauth.ErrBadCredentials) {
		t.Fatalf("tampered: %v", err)
	}
	// Expired.
	short, _ := webauth.Mint("st-mary", a.mary, time.Second)
	time.Sleep(1100 * time.Millisecond)
	if _, err := a.auth.Authenticate(bearer(short)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired: %v", err)
	}
	// Revoked members are refused at once.
	if _, err := a.e.Registry.Update(context.Background(), "st-mary", func(m *tocsinv1.Member) error {
		m.RevokedAt = timestamppb.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 10*time.Second, "the revoked member's token to be refused", testwait.True(func() bool {
		_, err := a.auth.Authenticate(bearer(tok))
		return errors.Is(err, webauth.ErrBadCredentials)
	}))
}

func TestIssuedTokensAndSessions(t *testing.T) {
	a := newAuthEnv(t, false)
	ctx := context.Background()
	tok, err := a.tokens.Issue(ctx, "riverside", "misp", 0)
	if err != nil {
		t.Fatal(err)
	}
	tlsReq := func(r *http.Request) *http.Request { r.TLS = &tls.ConnectionState{}; return r }
	basic := func(user, pass string) *http.Request {
		r := tlsReq(httptest.NewRequest(http.MethodGet, "/taxii2/", nil))
		r.SetBasicAuth(user, pass)
		return r
	}
	if id, err := a.auth.Authenticate(basic("riverside", tok)); err != nil || id.Member.GetId() != "riverside" || id.Kind != webauth.KindIssued {
		t.Fatalf("basic: %+v %v", id, err)
	}
	if id, err := a.auth.Authenticate(tlsReq(bearer(tok))); err != nil || id.Member.GetId() != "riverside" {
		t.Fatalf("bearer: %+v %v", id, err)
	}
	if _, err := a.auth.Authenticate(basic("st-mary", tok)); !errors.Is(err, webauth.ErrBadCredentials) {
		t.Fatalf("riverside's token as st-mary: %v", err)
	}
	if _, err := a.auth.Authenticate(basic("riverside", tok[:len(tok)-3]+"abc")); !errors.Is(err, webauth.ErrBadCredentials) {
		t.Fatalf("wrong secret: %v", err)
	}
	// Plain HTTP is refused when TLS is required.
	r := httptest.NewRequest(http.MethodGet, "/taxii2/", nil)
	r.SetBasicAuth("riverside", tok)
	if _, err := a.auth.Authenticate(r); !errors.Is(err, webauth.ErrPlainHTTP) {
		t.Fatalf("plain http: %v", err)
	}
	if _, err := a.auth.Authenticate(tlsReq(httptest.NewRequest(http.MethodGet, "/", nil))); !errors.Is(err, webauth.ErrNoCredentials) {
		t.Fatalf("no credentials: %v", err)
	}
	// Expiring tokens.
	brief, _ := a.tokens.Issue(ctx, "riverside", "brief", time.Second)
	time.Sleep(1100 * time.Millisecond)
	if _, err := a.auth.Authenticate(tlsReq(bearer(brief))); err == nil {
		t.Fatal("an expired issued token was accepted")
	}

	// A console session from the token: a cookie signed by the node.
	w := httptest.NewRecorder()
	id, err := a.auth.Login(w, tlsReq(httptest.NewRequest(http.MethodPost, "/console/api/login", nil)), "riverside", tok)
	if err != nil || id.Member.GetId() != "riverside" {
		t.Fatalf("login: %v", err)
	}
	cookie := w.Result().Cookies()[0]
	if cookie.Name != webauth.CookieName || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie: %+v", cookie)
	}
	withCookie := func() *http.Request {
		r := tlsReq(httptest.NewRequest(http.MethodGet, "/console/api/me", nil))
		r.AddCookie(cookie)
		return r
	}
	if id, err := a.auth.Authenticate(withCookie()); err != nil || id.Kind != webauth.KindSession || id.Member.GetId() != "riverside" {
		t.Fatalf("session: %+v %v", id, err)
	}
	// A session cookie is not a bearer token for another member, and a
	// member's own signed token cannot pose as a session for another.
	forged, _ := webauth.Mint("riverside", a.mary, time.Hour)
	r = tlsReq(httptest.NewRequest(http.MethodGet, "/", nil))
	r.AddCookie(&http.Cookie{Name: webauth.CookieName, Value: forged})
	if _, err := a.auth.Authenticate(r); !errors.Is(err, webauth.ErrBadCredentials) {
		t.Fatalf("st-mary's key making a riverside session: %v", err)
	}
	// Revoking the token ends the session.
	list, err := a.tokens.List(ctx, "riverside")
	if err != nil || len(list) < 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	for _, rec := range list {
		if rec.Label == "misp" {
			if err := a.tokens.Revoke(ctx, "riverside."+rec.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	testwait.For(t, 10*time.Second, "the session to end with its token", testwait.True(func() bool {
		_, err := a.auth.Authenticate(withCookie())
		return errors.Is(err, webauth.ErrBadCredentials)
	}))
	if _, err := a.auth.Authenticate(basic("riverside", tok)); !errors.Is(err, webauth.ErrBadCredentials) {
		t.Fatalf("revoked token: %v", err)
	}
}
