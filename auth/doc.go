// Package auth makes the NATS server itself enforce who may do what on a
// Tocsin cluster: operator mode with JWT .creds files, a full account
// resolver on every node, and per-member publish and subscribe allow lists
// derived from the member registry.
//
// # Accounts
//
// TOCSIN holds every stream and bucket and Tocsin's own services
// (unrestricted). Every member (admins included) has an account of its own
// (MemberAccount), with no JetStream, that imports from TOCSIN only the
// subjects the member's permissions name (ingest, lookup, pull and ack of
// its own consumers, direct gets of its own outcomes, its sectors' routed
// copies and its inbox). Why: the server publishes a request's answer to
// the reply subject the requester chose, with the answering side's rights.
// Across a service import the answer goes back into the requester's own
// account, where no other member is, so no member can make anything arrive
// where another listens.
//
// # Key material
//
// Init creates, in one directory (every file mode 0600):
//
//	operator.nk          operator identity seed: signs operator.jwt only.
//	                     Keep it offline and backed up; nothing else needs it
//	                     (strict signing key usage: nodes refuse account JWTs
//	                     it signs).
//	operator.jwt         self-signed operator JWT (names the system account
//	                     and the operator signing key)
//	operator-signing.nk  operator signing key seed: signs every account JWT
//	SYS.nk, SYS.jwt      system account identity seed and JWT
//	SYS-signing.nk       signs system-account users (who push account JWTs)
//	TOCSIN.nk, TOCSIN.jwt the TOCSIN account; its seed also derives every
//	                     member's account key and scoped signing key
//	TOCSIN-service.nk    signs the unrestricted users of Tocsin's services
//
// The .jwt files hold the account JWTs as Init made them (no members). Load
// reads everything back; operator.nk may be missing. A node needs no seed:
// only operator.jwt (which names the system account) and the account JWTs
// to preload (LoadServerAuth).
//
// # Members
//
// Every member gets a scoped signing key in its own account's JWT. The
// scope's template is the member's Permissions, and the member's user JWT
// (name = member id) is issued by that key, so the user JWT itself carries
// no permissions. The scoped key is derived from the TOCSIN account seed,
// the account and the member id, as is its account key, so nothing per
// member is stored. Changing
// a member's sectors changes its scope: once the new account JWTs are
// pushed (PushAccount), every node closes that member's connections and the
// client reconnects with the new permissions, with the same credentials.
// Revoking a member removes its scoped key and lists its public keys in the
// account's revocations: every node closes its connections and refuses new
// ones.
//
// A member reads through durable pull consumers named after it (Consumers:
// one for all its sectors, its inbox, its rejections)
// that Tocsin creates (EnsureConsumers); the member may look them up, pull
// and ack, but not create or change any consumer.
package auth
