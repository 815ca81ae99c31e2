package auth_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/tocsin-project/tocsin/auth"
)

func decodeCreds(t *testing.T, creds []byte) (*jwt.UserClaims, nkeys.KeyPair) {
	t.Helper()
	token, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(creds)
	if err != nil {
		t.Fatal(err)
	}
	return uc, kp
}

func TestIssuedCredentials(t *testing.T) {
	a, members, tocsin, own := initWithMembers(t)
	for _, m := range members {
		creds, pub, err := a.IssueMember(m)
		if err != nil {
			t.Fatal(err)
		}
		uc, kp := decodeCreds(t, creds)
		home := own[m.Id]
		account, err := a.MemberAccount(m.Id)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := kp.PublicKey(); got != pub || uc.Subject != pub {
			t.Fatalf("%s: creds key %s, jwt subject %s, returned %s: the .creds key is the member's signing key", m.Id, got, uc.Subject, pub)
		}
		if uc.Name != m.Id || uc.IssuerAccount != account || uc.Issuer != scopeOf(t, home, m.Id).Key {
			t.Fatalf("%s: name %q issuer %s account %s", m.Id, uc.Name, uc.Issuer, uc.IssuerAccount)
		}
		if !uc.HasEmptyPermissions() || uc.BearerToken {
			t.Fatalf("%s: a scoped user carries permissions or is a bearer token", m.Id)
		}
		// Re-issuing for the same key keeps the key.
		again, err := a.IssueMemberWithKey(m, kp)
		if err != nil {
			t.Fatal(err)
		}
		if uc2, _ := decodeCreds(t, again); uc2.Subject != pub {
			t.Fatalf("%s: re-issued for another key", m.Id)
		}
	}
	acct, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.IssueMemberWithKey(members[0], acct); !errors.Is(err, auth.ErrKeyMaterial) {
		t.Fatalf("an account key as user key: %v", err)
	}
	svc, err := a.IssueService("router")
	if err != nil {
		t.Fatal(err)
	}
	uc, _ := decodeCreds(t, svc)
	if uc.IssuerAccount != a.Account() || !slices.Contains(tocsin.SigningKeys.Keys(), uc.Issuer) || scopeOf(t, tocsin, "router") != nil {
		t.Fatalf("service user: issuer %s account %s", uc.Issuer, uc.IssuerAccount)
	}
	if len(uc.Pub.Allow)+len(uc.Sub.Allow)+len(uc.Pub.Deny)+len(uc.Sub.Deny) != 0 || !slices.Contains(uc.AllowedConnectionTypes, jwt.ConnectionTypeInProcess) {
		t.Fatalf("service user: %+v, want unrestricted, in-process allowed", uc.Permissions)
	}
	sys, err := a.IssueSystemUser("pusher")
	if err != nil {
		t.Fatal(err)
	}
	uc, _ = decodeCreds(t, sys)
	if uc.IssuerAccount != a.SystemAccount() || !slices.Equal(uc.Pub.Allow, jwt.StringList{"$SYS.REQ.CLAIMS.UPDATE", "$SYS.REQ.SERVER.PING.STATZ"}) || !slices.Equal(uc.Sub.Allow, jwt.StringList{"_INBOX_pusher.>"}) {
		t.Fatalf("system user: account %s, %+v", uc.IssuerAccount, uc.Permissions)
	}
}
