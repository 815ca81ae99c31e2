package auth

import "errors"

var (
	// ErrInvalidMember is wrapped when a member record cannot be turned into
	// permissions or credentials (bad id, bad sector, no role).
	ErrInvalidMember = errors.New("invalid member")
	// ErrUnknownRegion is wrapped when a member's home region is not one
	// of the cluster's regions with a stream set.
	ErrUnknownRegion = errors.New("unknown region")
	// ErrRevoked is wrapped when credentials are asked for a revoked member.
	ErrRevoked = errors.New("member revoked")
	// ErrKeyMaterial is wrapped when the authority's files are missing,
	// unreadable or do not belong together.
	ErrKeyMaterial = errors.New("invalid key material")
	// ErrServerAuth is wrapped when a node's authentication settings are
	// unusable.
	ErrServerAuth = errors.New("invalid server authentication")
	// ErrAccountTooLarge is wrapped when an account JWT would not fit in
	// one message (MaxAccountJWTBytes), so it could not be pushed.
	ErrAccountTooLarge = errors.New("account jwt too large")
	// ErrPush is wrapped when an account JWT could not be pushed to the
	// cluster or a node refused it.
	ErrPush = errors.New("account push failed")
)
