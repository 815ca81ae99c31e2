package auth

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// MaxAccountJWTBytes is the largest account JWT AccountJWTs signs: the
// server's default max payload (broker.DefaultMaxPayload), since a pushed
// JWT travels as one message. Each member adds its scope to its account's
// JWT (about 1.6 KB for a member of two sectors, so about 650 such members
// fit in ORGS).
const MaxAccountJWTBytes = 1 << 20

// memberConnectionTypes are the only ways a member's credentials may
// connect: plain NATS clients. Not as a leaf node (which would bridge a
// whole server in under the member's name), not MQTT or websocket.
var memberConnectionTypes = []string{jwt.ConnectionTypeStandard}

// inTocsin reports whether m's users live in the TOCSIN account (admins and
// services: Tocsin's own operators) rather than in ORGS (organisations).
func inTocsin(m *tocsinv1.Member) bool {
	return slices.ContainsFunc(m.GetRoles(), func(r tocsinv1.Role) bool {
		return r == tocsinv1.Role_ROLE_ADMIN || r == tocsinv1.Role_ROLE_SERVICE
	})
}

// home returns the name and key pair of the account m's users live in.
func (a *Authority) home(m *tocsinv1.Member) (string, nkeys.KeyPair) {
	if inTocsin(m) {
		return tocsinAccountName, a.account
	}
	return orgsAccountName, a.orgs
}

// AccountJWTs signs the two account JWTs that follow the registry, TOCSIN
// first, then ORGS. Their claims follow from members alone (only issue
// times and ids change):
//
// TOCSIN: JetStream enabled without limits; the unscoped service signing
// key; a scoped signing key for each admin or service member; the member
// services exported to ORGS.
//
// ORGS: no JetStream; the member services imported from TOCSIN; a scoped
// signing key for every other member.
//
// In both: each scope's template is the member's Permissions, connection
// type STANDARD only; bearer tokens are refused; revocations list every
// key with not_after set, at not_after (a replaced key may no longer
// connect, though its old signatures still verify), and every key of a
// revoked member, at revoked_at or not_after, whichever is later. A revoked
// member's scoped key is left out, so none of its credentials can connect
// whatever their issue time. To re-admit a member, give it a new key: the
// revocations keep its old credentials out.
//
// It fails on an invalid member, a duplicate id, two members whose
// consumer names would collide, or a JWT over MaxAccountJWTBytes. Push
// both with PushAccount.
func (a *Authority) AccountJWTs(members []*tocsinv1.Member) ([]string, error) {
	tocsin := jwt.NewAccountClaims(a.Account())
	tocsin.Name = tocsinAccountName
	tocsin.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
		Streams: jwt.NoLimit, Consumer: jwt.NoLimit, MaxAckPending: jwt.NoLimit,
	}
	tocsin.SigningKeys.Add(mustPublic(a.service))
	addExports(tocsin)
	orgs := jwt.NewAccountClaims(a.OrgsAccount())
	orgs.Name = orgsAccountName
	addImports(orgs, a.Account())
	claims := map[string]*jwt.AccountClaims{tocsinAccountName: tocsin, orgsAccountName: orgs}
	seen := map[string]bool{}
	var active []*tocsinv1.Member
	for _, m := range members {
		if err := CheckMember(m); err != nil {
			return nil, err
		}
		if seen[m.GetId()] {
			return nil, fmt.Errorf("%w: member id %q appears twice in the registry", ErrInvalidMember, m.GetId())
		}
		seen[m.GetId()] = true
		name, _ := a.home(m)
		revokeKeys(claims[name], m)
		if m.GetRevokedAt() != nil {
			continue
		}
		scope, err := a.memberScope(m)
		if err != nil {
			return nil, err
		}
		claims[name].SigningKeys.AddScopedSigner(scope)
		active = append(active, m)
	}
	if err := checkConsumerCollisions(active); err != nil {
		return nil, err
	}
	var out []string
	for _, ac := range []*jwt.AccountClaims{tocsin, orgs} {
		ac.Limits.DisallowBearer = true
		token, err := ac.Encode(a.opSigner)
		if err != nil {
			return nil, fmt.Errorf("%w: sign account jwt %s: %v", ErrKeyMaterial, ac.Name, err)
		}
		if len(token) > MaxAccountJWTBytes {
			return nil, fmt.Errorf("%w: account %s is %d bytes with %d scoped members, over the %d-byte max payload it must be pushed in; fewer members per account are needed",
				ErrAccountTooLarge, ac.Name, len(token), scopes(ac), MaxAccountJWTBytes)
		}
		out = append(out, token)
	}
	return out, nil
}

// memberScope is m's scoped signing key with m's permissions as template.
func (a *Authority) memberScope(m *tocsinv1.Member) (*jwt.UserScope, error) {
	perms, err := Permissions(m)
	if err != nil {
		return nil, err
	}
	name, _ := a.home(m)
	signer, err := a.memberSigner(name, m.GetId())
	if err != nil {
		return nil, err
	}
	scope := jwt.NewUserScope()
	scope.Key = mustPublic(signer)
	scope.Role = m.GetId()
	scope.Template.Permissions = perms
	scope.Template.AllowedConnectionTypes.Add(memberConnectionTypes...)
	return scope, nil
}

// revokeKeys enters m's revocations (see AccountJWTs).
func revokeKeys(ac *jwt.AccountClaims, m *tocsinv1.Member) {
	for _, k := range m.GetKeys() {
		var at time.Time
		if k.GetNotAfter() != nil {
			at = k.GetNotAfter().AsTime()
		}
		if m.GetRevokedAt() != nil && m.GetRevokedAt().AsTime().After(at) {
			at = m.GetRevokedAt().AsTime()
		}
		if !at.IsZero() && k.GetPublicKey() != "" {
			ac.RevokeAt(k.GetPublicKey(), at)
		}
	}
}

func checkConsumerCollisions(active []*tocsinv1.Member) error {
	owners := consumerOwners(active)
	names := make([]string, 0, len(owners))
	for name := range owners {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if ids := owners[name]; len(ids) > 1 {
			slices.Sort(ids)
			return fmt.Errorf("%w: members %s would share consumer %s; rename a member or a sector so that no \"<member>-<sector>\" repeats",
				ErrInvalidMember, strings.Join(ids, " and "), name)
		}
	}
	return nil
}

// scopes counts the scoped signing keys of ac.
func scopes(ac *jwt.AccountClaims) int {
	n := 0
	for _, s := range ac.SigningKeys {
		if s != nil {
			n++
		}
	}
	return n
}
