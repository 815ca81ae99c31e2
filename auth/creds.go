package auth

import (
	"fmt"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// IssueMember creates a new user key for m and returns its .creds file
// content (the format the nats CLI reads) and the user's public key. That
// key is also the member's envelope signing key: record it in m.Keys. The
// user JWT (name = member id) carries no permissions: the server takes them
// from m's scoped signing key in the account JWT, so they follow the
// registry without new credentials. Nothing is written.
func (a *Authority) IssueMember(m *tocsinv1.Member) (creds []byte, publicKey string, err error) {
	user, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", fmt.Errorf("%w: generate user key: %v", ErrKeyMaterial, err)
	}
	creds, err = a.IssueMemberWithKey(m, user)
	if err != nil {
		return nil, "", err
	}
	return creds, mustPublic(user), nil
}

// IssueMemberWithKey is IssueMember for a user key the member already has
// (a user seed, "SU..."), for example to re-issue lost credentials.
func (a *Authority) IssueMemberWithKey(m *tocsinv1.Member, user nkeys.KeyPair) ([]byte, error) {
	if err := CheckMember(m); err != nil {
		return nil, err
	}
	if m.GetRevokedAt() != nil {
		return nil, fmt.Errorf("%w: %q was revoked at %s; a revoked member gets no credentials", ErrRevoked, m.GetId(), m.GetRevokedAt().AsTime())
	}
	name, home, err := a.home(m)
	if err != nil {
		return nil, err
	}
	signer, err := a.memberSigner(name, m.GetId())
	if err != nil {
		return nil, err
	}
	uc, err := newUser(user, m.GetId(), home)
	if err != nil {
		return nil, err
	}
	// A scoped key's users carry no permissions or limits at all: the
	// server applies the scope's template instead.
	uc.UserPermissionLimits = jwt.UserPermissionLimits{}
	return encodeCreds(uc, signer, user)
}

// IssueService returns .creds for one of Tocsin's own services (router, aid
// service, provisioning): a TOCSIN user without restrictions, which may also
// connect in-process. name is the user name the server logs.
func (a *Authority) IssueService(name string) ([]byte, error) {
	return issueWithNewKey(name, a.Account(), a.service, func(*jwt.UserClaims) {})
}

// IssueSystemUser returns .creds for a system-account user that may push
// account JWTs ($SYS.REQ.CLAIMS.UPDATE), ask how many nodes there are
// ($SYS.REQ.SERVER.PING.STATZ: statistics only) and read the answers,
// nothing else.
// Its replies must use the inbox prefix InboxPrefix(name).
func (a *Authority) IssueSystemUser(name string) ([]byte, error) {
	if err := checkToken("system user name", name); err != nil {
		return nil, err
	}
	return issueWithNewKey(name, a.SystemAccount(), a.sysSigner, func(uc *jwt.UserClaims) {
		uc.Pub.Allow.Add(claimsUpdateSubject, statszPingSubject)
		uc.Sub.Allow.Add(InboxPrefix(name) + ".>")
	})
}

// issueWithNewKey signs, with signer, a user of account named name with a
// new key, which may connect over TCP or in-process; shape adds its limits.
func issueWithNewKey(name, account string, signer nkeys.KeyPair, shape func(*jwt.UserClaims)) ([]byte, error) {
	user, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("%w: generate user key: %v", ErrKeyMaterial, err)
	}
	uc, err := newUser(user, name, account)
	if err != nil {
		return nil, err
	}
	uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeStandard, jwt.ConnectionTypeInProcess)
	shape(uc)
	return encodeCreds(uc, signer, user)
}

func newUser(user nkeys.KeyPair, name, account string) (*jwt.UserClaims, error) {
	pub, err := user.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("%w: not a user key (want a seed starting with SU)", ErrKeyMaterial)
	}
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.IssuerAccount = account
	return uc, nil
}

func encodeCreds(uc *jwt.UserClaims, signer, user nkeys.KeyPair) ([]byte, error) {
	token, err := uc.Encode(signer)
	if err != nil {
		return nil, fmt.Errorf("%w: sign user jwt %q: %v", ErrKeyMaterial, uc.Name, err)
	}
	seed, err := user.Seed()
	if err != nil {
		return nil, fmt.Errorf("%w: user seed: %v", ErrKeyMaterial, err)
	}
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		return nil, fmt.Errorf("%w: format creds: %v", ErrKeyMaterial, err)
	}
	return creds, nil
}

// CredsOption is nats.UserCredentials for .creds content held in memory.
func CredsOption(creds []byte) (nats.Option, error) {
	token, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		return nil, fmt.Errorf("%w: creds: %v", ErrKeyMaterial, err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(creds)
	if err != nil {
		return nil, fmt.Errorf("%w: creds: %v", ErrKeyMaterial, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("%w: creds: %v", ErrKeyMaterial, err)
	}
	return nats.UserJWTAndSeed(token, string(seed)), nil
}
