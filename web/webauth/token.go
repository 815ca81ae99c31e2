// Package webauth maps an HTTP request to a Tocsin member: signed tokens
// (a member's own key over a short-lived claim), access tokens issued by an
// administrator and kept hashed in the WEBTOKENS bucket (HTTP Basic or
// bearer), and console sessions signed by the node's service key. Every
// check ends at the member registry: a revoked member, a removed key or a
// revoked token stops working at once.
package webauth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// Token prefixes: what kind of token a credential is.
const (
	// SignedPrefix starts a token signed by a key: "tcs1.<claims>.<sig>".
	SignedPrefix = "tcs1."
	// IssuedPrefix starts an access token issued by an administrator:
	// "tat1.<member>.<token id>.<secret>".
	IssuedPrefix = "tat1."
)

// Audience is the audience every signed token names.
const Audience = "tocsin-web"

// MaxSignedTTL is the longest a member-signed token may live: it cannot
// be revoked except by revoking the key, so it must be short.
const MaxSignedTTL = 24 * time.Hour

// clockSkew is how far in the future a token's issue time may be.
const clockSkew = time.Minute

// domain separates token signatures from any other use of the key.
const domain = "tocsin/v1/web-token\x00"

// Claims are what a signed token says.
type Claims struct {
	// Subject is the member the token authenticates.
	Subject string `json:"sub"`
	// Issuer is the member whose key signed it: the subject itself, or a
	// node's service member ("svc-n1") for a console session.
	Issuer string `json:"iss"`
	// KeyID is the public key ("U...") that signed it.
	KeyID string `json:"kid"`
	// IssuedAt and Expires are Unix seconds.
	IssuedAt int64 `json:"iat"`
	// Expires is when the token stops working, Unix seconds.
	Expires int64 `json:"exp"`
	// Audience is always Audience.
	Audience string `json:"aud"`
	// TokenID is, for a session, the issued access token it was opened
	// with ("<member>.<id>"): revoking the token ends the session.
	TokenID string `json:"tid,omitempty"`
}

// Mint returns a token for member signed with kp, the member's NKey user
// key (the seed of its .creds file), valid for ttl (at most MaxSignedTTL).
// It is what an agent or script sends as "Authorization: Bearer <token>".
func Mint(member string, kp nkeys.KeyPair, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxSignedTTL {
		return "", fmt.Errorf("webauth: a signed token lives between 1s and %s, not %s", MaxSignedTTL, ttl)
	}
	now := time.Now()
	return sign(Claims{Subject: member, Issuer: member, IssuedAt: now.Unix(), Expires: now.Add(ttl).Unix()}, kp)
}

// sign fills the key id and audience and signs c with kp.
func sign(c Claims, kp nkeys.KeyPair) (string, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("webauth: reading the public key: %w", err)
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("webauth: key %s is not an NKey user key; use the seed of the member's .creds file", pub)
	}
	c.KeyID, c.Audience = pub, Audience
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	seg := base64.RawURLEncoding.EncodeToString(body)
	sig, err := kp.Sign([]byte(domain + seg))
	if err != nil {
		return "", fmt.Errorf("webauth: signing: %w", err)
	}
	return SignedPrefix + seg + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// errMalformed is wrapped by parse errors.
var errMalformed = errors.New("malformed token")

// parseSigned decodes a signed token and checks its signature and times;
// it does not look at the registry.
func parseSigned(token string, now time.Time, maxTTL time.Duration) (*Claims, error) {
	rest, ok := strings.CutPrefix(token, SignedPrefix)
	seg, sigText, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil, fmt.Errorf("%w: want %s<claims>.<signature>", errMalformed, SignedPrefix)
	}
	body, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: claims: %v", errMalformed, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: the signature does not decode", errMalformed)
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", errMalformed, err)
	}
	pub, err := nkeys.Decode(nkeys.PrefixByteUser, []byte(c.KeyID))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: kid %q is not an NKey user key", errMalformed, c.KeyID)
	}
	if !ed25519.Verify(pub, []byte(domain+seg), sig) {
		return nil, errors.New("the token's signature does not verify")
	}
	switch {
	case c.Audience != Audience:
		return nil, fmt.Errorf("the token is for %q, not %q", c.Audience, Audience)
	case c.Subject == "" || c.Issuer == "":
		return nil, fmt.Errorf("%w: no subject or issuer", errMalformed)
	case time.Unix(c.IssuedAt, 0).After(now.Add(clockSkew)):
		return nil, errors.New("the token was issued in the future; check the clock")
	case !now.Before(time.Unix(c.Expires, 0)):
		return nil, errors.New("the token has expired; mint a new one")
	case time.Duration(c.Expires-c.IssuedAt)*time.Second > maxTTL:
		return nil, fmt.Errorf("the token lives longer than %s", maxTTL)
	}
	return &c, nil
}
