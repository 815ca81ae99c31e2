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
	"github.com/tocsin-project/tocsin/internal/kvread"
	"github.com/tocsin-project/tocsin/web/internal/follow"
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
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	bucket string

	mu    sync.Mutex
	cache map[string]cachedIssued
}

// cachedIssued is a record read recently; a miss is cached too.
type cachedIssued struct {
	rec *Issued
	at  time.Time
}

// cacheFor bounds how long a revoked token may still work on a node
// whose watch of the bucket (Follow) is broken; with the watch, a revoke
// reaches every node as fast as the bucket replicates it.
const cacheFor = 5 * time.Second

// OpenTokens opens the WEBTOKENS bucket of js.
func OpenTokens(ctx context.Context, js jetstream.JetStream) (*Tokens, error) {
	return OpenTokensIn(ctx, js, Bucket)
}

// OpenTokensIn opens the tokens bucket named bucket: a region's
// (WEBTOKENS-<region>) in a supercluster of stream sets (docs/REGIONS.md).
func OpenTokensIn(ctx context.Context, js jetstream.JetStream, bucket string) (*Tokens, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("webauth: open bucket %s: %w; provision it (web.BucketConfigs)", bucket, err)
	}
	return &Tokens{js: js, kv: kv, bucket: bucket, cache: map[string]cachedIssued{}}, nil
}

// Issue creates an access token for member, valid for ttl (0: until
// revoked), and returns it. Only its hash is stored: the token is shown
// once. Use it as the password of HTTP Basic with the member id as user
// name, or as a bearer token.
func (t *Tokens) Issue(ctx context.Context, member, label string, ttl time.Duration) (string, error) {
	token, _, err := t.IssueRecord(ctx, member, label, ttl)
	return token, err
}

// IssueRecord is Issue, also returning the stored record: a read right
// after the write may be answered by a replica that has not applied it.
func (t *Tokens) IssueRecord(ctx context.Context, member, label string, ttl time.Duration) (string, *Issued, error) {
	if !envelope.ValidMemberID(member) {
		return "", nil, fmt.Errorf("webauth: %q is not a member id", member)
	}
	if ttl < 0 {
		return "", nil, fmt.Errorf("webauth: a token's lifetime is positive, or 0 for until revoked, not %s", ttl)
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
	if _, err := t.kv.Create(ctx, rec.Key(), data); err != nil {
		return "", nil, fmt.Errorf("webauth: store token: %w", err)
	}
	return IssuedPrefix + rec.Key() + "." + s, &rec, nil
}

// ErrNoToken: no issued token has the id asked for (never issued, or
// revoked).
var ErrNoToken = errors.New("no such access token")

// Revoke deletes a token by its id ("<member>.<token id>", as Issued.Key
// and List name it). Every node refuses it once its watch (Follow) sees
// the delete, within cacheFor at most.
func (t *Tokens) Revoke(ctx context.Context, tokenID string) error {
	if err := t.kv.Delete(ctx, tokenID); err != nil {
		return fmt.Errorf("webauth: revoke %s: %w", tokenID, err)
	}
	t.forget(tokenID)
	return nil
}

// Get returns the record of a token by its id, read from the bucket;
// ErrNoToken when there is none.
func (t *Tokens) Get(ctx context.Context, tokenID string) (*Issued, error) {
	member, id, ok := strings.Cut(tokenID, ".")
	if !ok || !envelope.ValidMemberID(member) || id == "" || strings.Contains(id, ".") {
		return nil, fmt.Errorf("%w: %q is not a token id; want <member>.<id>, as tocsin token list shows", ErrNoToken, tokenID)
	}
	t.forget(tokenID)
	rec, err := t.get(ctx, tokenID)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoToken, tokenID)
	}
	return rec, nil
}

// List returns member's tokens (without secrets), every member's for "",
// read from the bucket.
func (t *Tokens) List(ctx context.Context, member string) ([]Issued, error) {
	filter := member + ".*"
	if member == "" {
		filter = "*.*"
	}
	// By batch direct get, not a key listing: a listing is a consumer,
	// which an admin may not create (auth: registry rights).
	entries, err := kvread.Latest(ctx, t.js.Conn(), kvread.APIPrefix(t.js.Options()), t.bucket, filter)
	if err != nil {
		return nil, fmt.Errorf("webauth: list tokens: %w", err)
	}
	var out []Issued
	for _, e := range entries {
		t.forget(e.Key)
		var rec Issued
		if json.Unmarshal(e.Value, &rec) == nil {
			out = append(out, rec)
		}
	}
	return out, nil
}

// Key is the token's id, its key in the bucket: "<member>.<id>".
func (i Issued) Key() string { return i.Member + "." + i.ID }

// Follow watches the bucket until ctx ends, dropping what this node cached
// of every token that changes: a revoke takes effect here as soon as the
// bucket replicates it. It returns the watch's error, if any; meanwhile
// cached records still expire after cacheFor.
func (t *Tokens) Follow(ctx context.Context) error {
	err := follow.Bucket(ctx, t.kv, ">", func() {}, func(e jetstream.KeyValueEntry) { t.forget(e.Key()) },
		jetstream.UpdatesOnly(), jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("webauth: watch %s: %w", t.bucket, err)
	}
	return nil
}

// forget drops a token's cached record.
func (t *Tokens) forget(key string) {
	t.mu.Lock()
	delete(t.cache, key)
	t.mu.Unlock()
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
