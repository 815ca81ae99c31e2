package envelope

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"google.golang.org/protobuf/proto"
)

// writeCreds writes a .creds file for user key kp, issued by a fresh account.
func writeCreds(t *testing.T, kp nkeys.KeyPair) string {
	t.Helper()
	account, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.NewUserClaims(pub).Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "st-mary.creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSignerConstructors(t *testing.T) {
	user := testKey(t, 1)
	userSeed, _ := user.Seed()
	userPub, _ := user.PublicKey()
	account, _ := nkeys.CreateAccount()
	accountSeed, _ := account.Seed()
	public, _ := nkeys.FromPublicKey(userPub)
	dir := t.TempDir()
	noSeed := filepath.Join(dir, "empty.creds")
	if err := os.WriteFile(noSeed, []byte("nothing here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		new     func() (*Signer, error)
		wantErr string
	}{
		{"key pair", func() (*Signer, error) { return NewSigner("st-mary", user) }, ""},
		{"seed", func() (*Signer, error) { return SignerFromSeed("st-mary", userSeed) }, ""},
		{"creds file", func() (*Signer, error) { return SignerFromCredsFile("st-mary", writeCreds(t, user)) }, ""},
		{"bad sender", func() (*Signer, error) { return NewSigner("St Mary", user) }, "not a member id"},
		{"nil key pair", func() (*Signer, error) { return NewSigner("st-mary", nil) }, "no key pair"},
		{"account key", func() (*Signer, error) { return NewSigner("st-mary", account) }, "not an NKey user key"},
		{"public key only", func() (*Signer, error) { return NewSigner("st-mary", public) }, "cannot sign"},
		{"garbage seed", func() (*Signer, error) { return SignerFromSeed("st-mary", []byte("SUxyz")) }, "does not decode"},
		{"account seed", func() (*Signer, error) { return SignerFromSeed("st-mary", accountSeed) }, "not an NKey user key"},
		{"missing creds", func() (*Signer, error) { return SignerFromCredsFile("st-mary", filepath.Join(dir, "nope")) }, "reading the credentials"},
		{"creds without seed", func() (*Signer, error) { return SignerFromCredsFile("st-mary", noSeed) }, "holds no user NKey seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.new()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Sender() != "st-mary" || s.KeyID() != userPub {
				t.Errorf("signer is %s/%s, want st-mary/%s", s.Sender(), s.KeyID(), userPub)
			}
		})
	}
}

// seedOnly hides every method of a key pair but those of nkeys.KeyPair and
// refuses PrivateKey, as a hardware-backed key pair would.
type seedOnly struct{ nkeys.KeyPair }

// PrivateKey refuses to export the key.
func (seedOnly) PrivateKey() ([]byte, error) { return nil, nkeys.ErrInvalidNKeyOperation }

func TestSignerWithoutPrivateKeyExport(t *testing.T) {
	s, err := NewSigner("st-mary", seedOnly{testKey(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	fast := testSigner(t, "st-mary", 1)
	a, b := seal(t, s), seal(t, fast)
	if !proto.Equal(a, b) {
		t.Errorf("signing through the key pair gives %x, the expanded key %x", a.Signature, b.Signature)
	}
}

func TestSeal(t *testing.T) {
	s := testSigner(t, "st-mary", 1)
	reg := newRegistry(member("st-mary", tocsinv1.Role_ROLE_MEMBER, key(s, time.Time{}, time.Time{})))
	v := NewVerifier(reg, VerifyOptions{})
	before := time.Now()
	env, err := s.Seal(tocsinv1.Kind_KIND_RECEIPT, &tocsinv1.Receipt{RefId: "x", State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED})
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(env.Id) || env.Sender != "st-mary" || env.KeyId != s.KeyID() || env.Via != "" {
		t.Errorf("Seal() = %v", env)
	}
	if at := env.Time.AsTime(); at.Before(before.Add(-time.Millisecond)) || at.After(time.Now()) {
		t.Errorf("Seal() time %v is not now", at)
	}
	var got tocsinv1.Receipt
	if _, err := v.Open(context.Background(), env, &got); err != nil || got.RefId != "x" {
		t.Errorf("Open(Seal()) = %v, %v", &got, err)
	}
	data, err := Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data, 0)
	if err != nil || !proto.Equal(back, env) {
		t.Fatalf("Decode(Marshal(env)) = %v, %v; want %v", back, err, env)
	}
	if _, err := v.Verify(context.Background(), back); err != nil {
		t.Errorf("Verify after a wire round trip: %v", err)
	}
	if env2 := seal(t, s, WithID("retry-1"), WithVia("taxii")); env2.Id != "retry-1" || env2.Via != "taxii" || !env2.Time.AsTime().Equal(t0) {
		t.Errorf("options not applied: %v", env2)
	}
}

func TestSealRefuses(t *testing.T) {
	s := testSigner(t, "st-mary", 1)
	tests := []struct {
		name    string
		kind    tocsinv1.Kind
		payload proto.Message
		opts    []SealOption
		want    string
	}{
		{"payload of another kind", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Receipt{}, nil, "carries a tocsin.v1.Alert, not a tocsin.v1.Receipt"},
		{"no payload", tocsinv1.Kind_KIND_ALERT, nil, nil, "no payload"},
		{"unspecified kind", tocsinv1.Kind_KIND_UNSPECIFIED, testAlert(), nil, "no known payload type"},
		{"bad id", tocsinv1.Kind_KIND_ALERT, testAlert(), []SealOption{WithID("a.b")}, "id \"a.b\""},
		{"bad via", tocsinv1.Kind_KIND_ALERT, testAlert(), []SealOption{WithVia("ta xii")}, "via"},
		{"another sender without via", tocsinv1.Kind_KIND_ALERT, testAlert(), []SealOption{OnBehalfOf("st-luke")}, "may not sign as st-luke"},
		{"relay for a bad sender", tocsinv1.Kind_KIND_ALERT, testAlert(), []SealOption{WithVia("taxii"), OnBehalfOf("St-Luke")}, "not a member id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := s.Seal(tt.kind, tt.payload, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Seal() = %v, %v; want an error containing %q", env, err, tt.want)
			}
		})
	}
	if err := s.Sign(nil); err == nil {
		t.Error("Sign(nil) succeeded")
	}
	var coded *codes.Error
	if _, err := s.Seal(tocsinv1.Kind_KIND_ALERT, &tocsinv1.Receipt{}); !errors.As(err, &coded) || coded.Code != malformed {
		t.Errorf("Seal() with a wrong payload = %v, want a MALFORMED *codes.Error", err)
	}
}

// TestNewMemberKey: the member's only key is the new one, valid already,
// and what it seals verifies against the member.
func TestNewMemberKey(t *testing.T) {
	m := member("st-mary", tocsinv1.Role_ROLE_MEMBER, key(testSigner(t, "st-mary", 1), time.Time{}, time.Time{}))
	s, kp, err := NewMemberKey(m)
	if err != nil {
		t.Fatal(err)
	}
	if pub, _ := kp.PublicKey(); len(m.Keys) != 1 || m.Keys[0].PublicKey != s.KeyID() || pub != s.KeyID() || !m.Keys[0].NotBefore.AsTime().Before(time.Now()) {
		t.Fatalf("keys %v, signer %s", m.Keys, s.KeyID())
	}
	env, err := s.Seal(tocsinv1.Kind_KIND_RECEIPT, &tocsinv1.Receipt{RefId: "x", State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(newRegistry(m), VerifyOptions{}).Verify(context.Background(), env); err != nil {
		t.Fatalf("a sealed envelope does not verify: %v", err)
	}
	if _, _, err := NewMemberKey(&tocsinv1.Member{Id: "Not A Member"}); err == nil {
		t.Fatal("a malformed member id got a key")
	}
}
