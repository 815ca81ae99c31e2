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
// JWT travels as one message. A member's own account JWT is a few KB (its
// imports and its scoped signing key), so only a member of thousands of
// sectors could reach it.
const MaxAccountJWTBytes = 1 << 20

// memberConnectionTypes are the only ways a member's credentials may
// connect: plain NATS clients. Not as a leaf node (which would bridge a
// whole server in under the member's name), not MQTT or websocket.
var memberConnectionTypes = []string{jwt.ConnectionTypeStandard}

// inTocsin reports whether m's users live in the TOCSIN account (Tocsin's
// own services) rather than in an account of m's own.
func inTocsin(m *tocsinv1.Member) bool {
	return slices.Contains(m.GetRoles(), tocsinv1.Role_ROLE_SERVICE)
}

// home returns the name and public key of the account m's users live in:
// TOCSIN for services, else m's own account (MemberAccount).
func (a *Authority) home(m *tocsinv1.Member) (name, pub string, err error) {
	if inTocsin(m) {
		return tocsinAccountName, a.Account(), nil
	}
	kp, err := a.memberAccountKey(m.GetId())
	if err != nil {
		return "", "", err
	}
	return m.GetId(), mustPublic(kp), nil
}

// MemberAccount is the public key of the account member id's users log in
// to. Every member (admins included; services excepted) has an account of
// its own, derived from the TOCSIN account seed, so nothing per member is
// stored and the same id always has the same account.
func (a *Authority) MemberAccount(id string) (string, error) {
	if err := checkToken("member id", id); err != nil {
		return "", err
	}
	kp, err := a.memberAccountKey(id)
	if err != nil {
		return "", err
	}
	return mustPublic(kp), nil
}

// AccountJWTs signs the account JWTs that follow the registry: TOCSIN
// first, then one for each member that is not a service, in the order of
// members. Their claims follow from members alone (only issue times and
// ids change):
//
// TOCSIN: JetStream enabled without limits; the unscoped service signing
// key; a scoped signing key for each service member; every member service
// and the routed subjects exported (TOCSIN's claims do not depend on who
// is a member, so admitting one does not change them).
//
// A member's account: no JetStream; imported from TOCSIN, exactly the
// subjects its permissions let it publish to (as services) and the routed
// subjects it may watch (as streams), nothing of any other member; one
// scoped signing key whose template is the member's Permissions. Whatever
// reply subject a member names, the answer is published in its own
// account, where no other member is.
//
// In all: connection type STANDARD only; bearer tokens are refused;
// revocations list every key with not_after set, at not_after (a replaced
// key may no longer connect, though its old signatures still verify), and
// every key of a revoked member, at revoked_at or not_after, whichever is
// later. A revoked member's scoped key is left out, so none of its
// credentials can connect whatever their issue time. To re-admit a member,
// give it a new key: the revocations keep its old credentials out.
//
// It fails on an invalid member, a duplicate id, two members whose
// consumer names would collide, or a JWT over MaxAccountJWTBytes. Push
// them with PushAccounts.
func (a *Authority) AccountJWTs(members []*tocsinv1.Member) ([]string, error) {
	return a.AccountJWTsOf(members, nil)
}

// AccountJWTsOf is AccountJWTs checked over the whole registry members but
// signed only for TOCSIN and the members only names (nil: every member): a
// member's own account depends on its record alone, so a change to one
// member needs its JWT pushed and no other (revoking one of 10,000 signs
// two JWTs, not 10,001).
func (a *Authority) AccountJWTsOf(members []*tocsinv1.Member, only map[string]bool) ([]string, error) {
	tocsin := a.tocsinClaims()
	seen := map[string]bool{}
	var active []*tocsinv1.Member
	own := make([]*jwt.AccountClaims, 0, len(members))
	for _, m := range members {
		if err := CheckMember(m); err != nil {
			return nil, err
		}
		if seen[m.GetId()] {
			return nil, fmt.Errorf("%w: member id %q appears twice in the registry", ErrInvalidMember, m.GetId())
		}
		seen[m.GetId()] = true
		ac := tocsin
		if only != nil && !only[m.GetId()] && !inTocsin(m) {
			if m.GetRevokedAt() == nil {
				active = append(active, m) // for the collision check
			}
			continue
		}
		if !inTocsin(m) {
			var err error
			if ac, err = a.memberClaims(m); err != nil {
				return nil, err
			}
			own = append(own, ac)
		}
		revokeKeys(ac, m)
		if m.GetRevokedAt() != nil {
			continue
		}
		scope, err := a.memberScope(m)
		if err != nil {
			return nil, err
		}
		ac.SigningKeys.AddScopedSigner(scope)
		site, err := a.siteScope(m)
		if err != nil {
			return nil, err
		}
		if site != nil {
			ac.SigningKeys.AddScopedSigner(site)
		}
		active = append(active, m)
	}
	if err := checkConsumerCollisions(active); err != nil {
		return nil, err
	}
	out := make([]string, 0, 1+len(own))
	for _, ac := range append([]*jwt.AccountClaims{tocsin}, own...) {
		token, err := a.encodeAccount(ac)
		if err != nil {
			return nil, err
		}
		out = append(out, token)
	}
	return out, nil
}

// tocsinClaims are the TOCSIN account's claims without service members.
func (a *Authority) tocsinClaims() *jwt.AccountClaims {
	ac := jwt.NewAccountClaims(a.Account())
	ac.Name = tocsinAccountName
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
		Streams: jwt.NoLimit, Consumer: jwt.NoLimit, MaxAckPending: jwt.NoLimit,
	}
	ac.SigningKeys.Add(mustPublic(a.service))
	// The raft traffic of TOCSIN's streams and consumers goes over TOCSIN's
	// route connection, which a node keeps apart from the system account's
	// (broker's routePoolSize), where the resolvers' sync can hold it up
	// for seconds.
	ac.ClusterTraffic = jwt.ClusterTrafficOwner
	addExports(ac)
	return ac
}

// memberClaims are m's own account's claims, without its scope and
// revocations: its imports from TOCSIN.
func (a *Authority) memberClaims(m *tocsinv1.Member) (*jwt.AccountClaims, error) {
	_, pub, err := a.home(m)
	if err != nil {
		return nil, err
	}
	ac := jwt.NewAccountClaims(pub)
	ac.Name = m.GetId()
	if err := addImports(ac, a.Account(), m); err != nil {
		return nil, err
	}
	siteImports(ac, a.Account(), m)
	return ac, nil
}

// encodeAccount signs ac with the operator signing key, refusing bearer
// tokens, and checks that it fits in one message.
func (a *Authority) encodeAccount(ac *jwt.AccountClaims) (string, error) {
	ac.Limits.DisallowBearer = true
	token, err := ac.Encode(a.opSigner)
	if err != nil {
		return "", fmt.Errorf("%w: sign account jwt %s: %v", ErrKeyMaterial, ac.Name, err)
	}
	if len(token) > MaxAccountJWTBytes {
		return "", fmt.Errorf("%w: account %s is %d bytes (%d imports, %d scoped signing keys), over the %d-byte max payload it must be pushed in; give the member fewer sectors",
			ErrAccountTooLarge, ac.Name, len(token), len(ac.Imports), scopes(ac), MaxAccountJWTBytes)
	}
	return token, nil
}

// memberScope is m's scoped signing key with m's permissions as template.
func (a *Authority) memberScope(m *tocsinv1.Member) (*jwt.UserScope, error) {
	perms, err := Permissions(m)
	if err != nil {
		return nil, err
	}
	name, _, err := a.home(m)
	if err != nil {
		return nil, err
	}
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

// memberAccountKey derives member id's account identity key (see
// MemberAccount).
func (a *Authority) memberAccountKey(id string) (nkeys.KeyPair, error) {
	return a.derive(memberAccountDerivation + id)
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
	addSiteOwners(owners, active)
	names := make([]string, 0, len(owners))
	for name := range owners {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if ids := owners[name]; len(ids) > 1 {
			slices.Sort(ids)
			return fmt.Errorf("%w: members %s would share consumer %s; rename one of them: a member \"<id>-site\" collides with the site consumers of member \"<id>\"",
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
