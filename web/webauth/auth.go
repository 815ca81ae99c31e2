package webauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Registry looks members up; *members.Registry is one.
type Registry interface {
	// Member returns the record of id; an unknown id is an error.
	Member(ctx context.Context, id string) (*tocsinv1.Member, error)
}

// CookieName is the console's session cookie.
const CookieName = "tocsin_session"

// Errors of Authenticate. Both mean 401, except ErrPlainHTTP (403).
var (
	// ErrNoCredentials: the request carries none.
	ErrNoCredentials = errors.New("no credentials: send HTTP Basic (member id and access token) or a bearer token")
	// ErrBadCredentials is wrapped by every refusal of credentials.
	ErrBadCredentials = errors.New("credentials refused")
	// ErrPlainHTTP: credentials over plain HTTP where TLS is required.
	ErrPlainHTTP = errors.New("credentials over plain http are refused: use https (a node serves it when its config sets http_tls); " +
		"a token sent in the clear is exposed: have it revoked (tocsin token revoke)")
)

// Kind says how a request was authenticated.
type Kind string

// Credential kinds.
const (
	// KindSigned: a token signed by the member's own key.
	KindSigned Kind = "signed"
	// KindIssued: an issued access token (Basic or bearer).
	KindIssued Kind = "issued"
	// KindSession: the console's session cookie.
	KindSession Kind = "session"
)

// Identity is an authenticated caller.
type Identity struct {
	// Member is the caller's registry record.
	Member *tocsinv1.Member
	// Kind is how it authenticated.
	Kind Kind
	// TokenID is the issued token used, directly or through a session.
	TokenID string
}

// Options configure an Authenticator.
type Options struct {
	// AllowPlainHTTP accepts credentials on requests that did not come over
	// TLS. Default false: set it in dev mode only.
	AllowPlainHTTP bool
	// SessionTTL is how long a console session lasts. Default 8h.
	SessionTTL time.Duration
}

// Authenticator maps requests to members.
type Authenticator struct {
	reg    Registry
	tokens *Tokens
	key    nkeys.KeyPair
	issuer string
	opts   Options
	now    func() time.Time
}

// New returns an Authenticator. key and issuer are the node's service key
// and its member id ("svc-n1"), which sign console sessions; any node
// verifies them through the registry, so a session survives a load
// balancer moving it between nodes.
func New(reg Registry, tokens *Tokens, key nkeys.KeyPair, issuer string, opts Options) *Authenticator {
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	return &Authenticator{reg: reg, tokens: tokens, key: key, issuer: issuer, opts: opts, now: time.Now}
}

// Authenticate returns the caller of r: a bearer token, HTTP Basic (member
// id and access token) or the session cookie, in that order.
func (a *Authenticator) Authenticate(r *http.Request) (*Identity, error) {
	ctx := r.Context()
	cred, user, kind := credential(r)
	if cred == "" {
		return nil, ErrNoCredentials
	}
	if r.TLS == nil && !a.opts.AllowPlainHTTP {
		return nil, ErrPlainHTTP
	}
	id, err := a.Check(ctx, cred)
	if err != nil {
		return nil, err
	}
	if user != "" && user != id.Member.GetId() {
		return nil, fmt.Errorf("%w: the token belongs to %s, not %s", ErrBadCredentials, id.Member.GetId(), user)
	}
	if kind == KindSession && id.Kind != KindSession {
		return nil, fmt.Errorf("%w: the session cookie holds no session", ErrBadCredentials)
	}
	return id, nil
}

// credential extracts the token, the Basic user name (if any) and whether
// it came from the session cookie.
func credential(r *http.Request) (token, user string, kind Kind) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), "", ""
		}
		if u, p, ok := r.BasicAuth(); ok {
			if u == "" {
				return p, "", ""
			}
			return p, u, ""
		}
		return "", "", ""
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		return c.Value, "", KindSession
	}
	return "", "", ""
}

// Check verifies a token of any kind and returns whom it authenticates.
func (a *Authenticator) Check(ctx context.Context, token string) (*Identity, error) {
	now := a.now()
	switch {
	case strings.HasPrefix(token, IssuedPrefix):
		rec, err := a.tokens.check(ctx, token, now)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadCredentials, err)
		}
		m, err := a.active(ctx, rec.Member)
		if err != nil {
			return nil, err
		}
		return &Identity{Member: m, Kind: KindIssued, TokenID: rec.Member + "." + rec.ID}, nil
	case strings.HasPrefix(token, SignedPrefix):
		return a.checkSigned(ctx, token, now)
	}
	return nil, fmt.Errorf("%w: not a Tocsin token (%s... or %s...)", ErrBadCredentials, IssuedPrefix, SignedPrefix)
}

// checkSigned verifies a signed token: the member's own, or a session
// signed by a node's service key.
func (a *Authenticator) checkSigned(ctx context.Context, token string, now time.Time) (*Identity, error) {
	c, err := parseSigned(token, now, max(MaxSignedTTL, a.opts.SessionTTL))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCredentials, err)
	}
	issuer, err := a.reg.Member(ctx, c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer %s: %w", ErrBadCredentials, c.Issuer, err)
	}
	if issuer.GetRevokedAt() != nil || !keyValid(issuer, c.KeyID, now) {
		return nil, fmt.Errorf("%w: key %s is not a valid key of %s", ErrBadCredentials, c.KeyID, c.Issuer)
	}
	id := &Identity{Kind: KindSigned}
	if c.Issuer != c.Subject {
		if !members.HasRole(issuer, tocsinv1.Role_ROLE_SERVICE) {
			return nil, fmt.Errorf("%w: %s may not sign for %s", ErrBadCredentials, c.Issuer, c.Subject)
		}
		id.Kind, id.TokenID = KindSession, c.TokenID
		if c.TokenID != "" {
			if rec, err := a.tokens.get(ctx, c.TokenID); err != nil {
				return nil, err
			} else if rec == nil || rec.Member != c.Subject {
				return nil, fmt.Errorf("%w: the access token this session was opened with was revoked", ErrBadCredentials)
			}
		}
	} else if time.Duration(c.Expires-c.IssuedAt)*time.Second > MaxSignedTTL {
		return nil, fmt.Errorf("%w: a member's signed token lives at most %s", ErrBadCredentials, MaxSignedTTL)
	}
	if id.Member, err = a.active(ctx, c.Subject); err != nil {
		return nil, err
	}
	return id, nil
}

// active returns member id's record if it may use the web face: known,
// not revoked, not a service.
func (a *Authenticator) active(ctx context.Context, id string) (*tocsinv1.Member, error) {
	m, err := a.reg.Member(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: member %s: %w", ErrBadCredentials, id, err)
	}
	if m.GetRevokedAt() != nil || !members.Active(m, a.now()) {
		return nil, fmt.Errorf("%w: member %s is revoked", ErrBadCredentials, id)
	}
	if members.HasRole(m, tocsinv1.Role_ROLE_SERVICE) {
		return nil, fmt.Errorf("%w: %s is a service, not a member", ErrBadCredentials, id)
	}
	return m, nil
}

// keyValid reports whether m holds key kid valid at t.
func keyValid(m *tocsinv1.Member, kid string, t time.Time) bool {
	return slices.ContainsFunc(m.GetKeys(), func(k *tocsinv1.SigningKey) bool {
		if k.GetPublicKey() != kid {
			return false
		}
		if nb := k.GetNotBefore(); nb != nil && t.Before(nb.AsTime()) {
			return false
		}
		na := k.GetNotAfter()
		return na == nil || t.Before(na.AsTime())
	})
}

// Login checks token (issued or signed by the member) and, when it is
// good, sets the session cookie and returns the caller.
func (a *Authenticator) Login(w http.ResponseWriter, r *http.Request, member, token string) (*Identity, error) {
	if r.TLS == nil && !a.opts.AllowPlainHTTP {
		return nil, ErrPlainHTTP
	}
	id, err := a.Check(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return nil, err
	}
	if id.Kind == KindSession {
		return nil, fmt.Errorf("%w: log in with an access token, not a session", ErrBadCredentials)
	}
	if member != "" && member != id.Member.GetId() {
		return nil, fmt.Errorf("%w: the token belongs to %s, not %s", ErrBadCredentials, id.Member.GetId(), member)
	}
	now := a.now()
	session, err := sign(Claims{Subject: id.Member.GetId(), Issuer: a.issuer, IssuedAt: now.Unix(),
		Expires: now.Add(a.opts.SessionTTL).Unix(), TokenID: id.TokenID}, a.key)
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: session, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.opts.SessionTTL / time.Second)})
	return id, nil
}

// Logout clears the session cookie.
func Logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
