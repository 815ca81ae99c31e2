// Package auth makes the NATS server itself enforce who may do what on a
// Tocsin cluster: operator mode with JWT .creds files, a full account
// resolver on every node, and per-member publish and subscribe allow lists
// derived from the member registry.
//
// # Key material
//
// Init creates, in one directory (every file mode 0600):
//
//	operator.nk          operator identity seed: signs operator.jwt only.
//	                     Keep it offline and backed up; nothing else needs it.
//	operator.jwt         self-signed operator JWT (strict signing key usage,
//	                     names the system account and the operator signing key)
//	operator-signing.nk  operator signing key seed: signs every account JWT
//	SYS.nk, SYS.jwt      system account identity seed and JWT
//	SYS-signing.nk       signs system-account users (who push account JWTs)
//	TOCSIN.nk, TOCSIN.jwt the account every member, service and stream lives
//	                     in (JetStream enabled, unlimited); TOCSIN.jwt is the
//	                     account JWT as first created, with no members
//	TOCSIN-service.nk    signs the unrestricted users of Tocsin's own services
//
// Load reads them back; operator.nk may be missing (kept offline). A node
// needs none of the seeds: only operator.jwt (which names the system
// account) and the account JWTs to preload (LoadServerAuth).
//
// # Members
//
// Every member gets its own scoped signing key in the TOCSIN account JWT.
// The scope's template is the member's permissions (Permissions), and the
// member's user JWT (name = member id) is issued by that key, so the user
// JWT itself carries no permissions. The scoped key's seed is derived from
// the TOCSIN account seed and the member id, so nothing per member is
// stored. Changing a member's sectors changes its scope: once the new
// account JWT is pushed (PushAccount), every node closes that member's
// connections and the client reconnects with the new permissions. Revoking
// a member removes its scoped key and lists its public keys in the
// account's revocations: every node closes its connections and refuses new
// ones.
package auth
