package webauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/envelope"
)

// Bucket is the KV bucket of issued access tokens: key "<member>.<token
// id>", value the Issued record (the secret's SHA-256, never the secret).
const Bucket = "WEBTOKENS"

// Issued is the stored record of an access token.
type Issued struct {
	// Member is the member the token authenticates.
	Member string `json:"member"`
	// ID is the token id (the key's second token).
	ID string `json:"id"`
	// Hash is the hex SHA-256 of the secret.
	Hash string `json:"hash"`
	// Label says what the token is for ("misp feed").
	Label string `json:"label,omitempty"`
	// Created is when it was issued.
	Created time.Time `json:"created"`
	// Expires is when it stops working; zero for never.
	Expires time.Time `json:"expires,omitzero"`
}

// Tokens issues, checks and revokes access tokens.
type Tokens struct {
	kv jetstream.KeyValue

	mu    sync.Mutex
	cache map[string]cachedIssued
}

// cachedIssued is a record read recently; a miss is cached too.
type cachedIssued struct {
	rec *Issued
	at  time.Time
}

// cacheFor bounds how long a revoked token may still work on this node.
const cacheFor = 5 * time.Second

// OpenTokens opens the WEBTOKENS bucket of js.
func OpenTokens(ctx context.Context, js jetstream.JetStream) (*Tokens, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if err != nil {
		return nil, fmt.Errorf("webauth: open bucket %s: %w; provision it (web.BucketConfigs)", Bucket, err)
	}
	return &Tokens{kv: kv, cache: map[string]cachedIssued{}}, nil
}

// Issue creates an access token for member, valid for ttl (0: until
// revoked), and returns it. Only its hash is stored: the token is shown
// once. Use it as the password of HTTP Basic with the member id as user
// name, or as a bearer token.
func (t *Tokens) Issue(ctx context.Context, member, label string, ttl time.Duration) (string, error) {
	if !envelope.ValidMemberID(member) {
		return "", fmt.Errorf("webauth: %q is not a member id", member)
	}
	var idb [8]byte
	var secret [32]byte
	_, _ = rand.Read(idb[:])
	_, _ = rand.Read(secret[:])
	s := base64.RawURLEncoding.EncodeToString(secret[:])
	rec := Issued{Member: member, ID: hex.EncodeToString(idb[:]), Hash: hashSecret(s), Label: label, Created: time.Now().UTC()}
	if ttl > 0 {
		rec.Expires = rec.Created.Add(ttl)
	}
	data, _ := json.Marshal(rec)
	if _, err := t.kv.Create(ctx, member+"."+rec.ID, data); err != nil {
		return "", fmt.Errorf("webauth: store token: %w", err)
	}
	return IssuedPrefix + member + "." + rec.ID + "." + s, nil
}

// Revoke deletes a token by its id ("<member>.<token id>", as Issued and
// List name it).
func (t *Tokens) Revoke(ctx context.Context, tokenID string) error {
	if err := t.kv.Delete(ctx, tokenID); err != nil {
		return fmt.Errorf("webauth: revoke %s: %w", tokenID, err)
	}
	t.mu.Lock()
	delete(t.cache, tokenID)
	t.mu.Unlock()
	return nil
}

// List returns member's tokens (without secrets).
func (t *Tokens) List(ctx context.Context, member string) ([]Issued, error) {
	keys, err := t.kv.ListKeysFiltered(ctx, member+".*")
	if err != nil {
		return nil, err
	}
	var out []Issued
	for k := range keys.Keys() {
		if rec, err := t.get(ctx, k); err == nil && rec != nil {
			out = append(out, *rec)
		}
	}
	return out, nil
}

// check returns the record of an issued token after checking its secret
// and expiry, and the key it is stored under.
func (t *Tokens) check(ctx context.Context, token string, now time.Time) (*Issued, error) {
	parts := strings.Split(strings.TrimPrefix(token, IssuedPrefix), ".")
	if !strings.HasPrefix(token, IssuedPrefix) || len(parts) != 3 || !envelope.ValidMemberID(parts[0]) {
		return nil, fmt.Errorf("%w: want %s<member>.<id>.<secret>", errMalformed, IssuedPrefix)
	}
	rec, err := t.get(ctx, parts[0]+"."+parts[1])
	if err != nil {
		return nil, err
	}
	if rec == nil || subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(hashSecret(parts[2]))) != 1 {
		return nil, errors.New("unknown or revoked access token")
	}
	if !rec.Expires.IsZero() && !now.Before(rec.Expires) {
		return nil, errors.New("the access token has expired; ask an administrator for a new one")
	}
	return rec, nil
}

// get reads a token record through a short cache; nil when there is none.
func (t *Tokens) get(ctx context.Context, key string) (*Issued, error) {
	t.mu.Lock()
	c, ok := t.cache[key]
	t.mu.Unlock()
	if ok && time.Since(c.at) < cacheFor {
		return c.rec, nil
	}
	var rec *Issued
	e, err := t.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey):
	case err != nil:
		return nil, fmt.Errorf("read access token: %w", err)
	default:
		rec = &Issued{}
		if json.Unmarshal(e.Value(), rec) != nil {
			rec = nil
		}
	}
	t.mu.Lock()
	if len(t.cache) > 10000 {
		clear(t.cache)
	}
	t.cache[key] = cachedIssued{rec: rec, at: time.Now()}
	t.mu.Unlock()
	return rec, nil
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
