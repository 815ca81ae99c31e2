package auth

import (
	"fmt"
	"path/filepath"

	"github.com/nats-io/jwt/v2"
)

// AccountsDir is the folder of an authority directory (and of a node's
// copy of its public part) holding account JWTs a node preloads besides
// SYS.jwt and TOCSIN.jwt: the first admin's account, written by tocsin
// init. The other members' accounts reach the nodes by push.
const AccountsDir = "accounts"

// DefaultResolverDir is the folder, inside a node's store dir, where its
// account resolver keeps account JWTs.
const DefaultResolverDir = "jwt"

// ServerAuth is what a node needs to enforce authentication: public JWTs
// only, no seed. The same value may be given to every node of a cluster.
type ServerAuth struct {
	// OperatorJWT is the operator JWT the node trusts (operator.jwt).
	// Required.
	OperatorJWT string
	// SystemAccount is the system account's public key. Default: the
	// system account the operator JWT names (they must agree when both set).
	SystemAccount string
	// AccountJWTs are stored in the node's resolver at start (preloads):
	// the system account's and TOCSIN's. A JWT the resolver already holds
	// in a newer version (pushed since) is kept. Default none.
	AccountJWTs []string
	// ResolverDir is where the node's full account resolver keeps account
	// JWTs; pushed updates are written there and survive restarts. A
	// relative path is taken inside the node's store dir. Default "jwt"
	// inside the store dir. Nodes must not share one.
	ResolverDir string
}

// LoadServerAuth reads a node's authentication from an authority directory
// (or a copy of its public part): operator.jwt, SYS.jwt and TOCSIN.jwt.
// It reads no seed. The members' accounts reach a node by push
// (PushAccounts) and by the resolvers' synchronisation between nodes.
func LoadServerAuth(dir string) (*ServerAuth, error) {
	var sa ServerAuth
	op, err := readJWT(filepath.Join(dir, OperatorJWTFile))
	if err != nil {
		return nil, err
	}
	sa.OperatorJWT = op
	files := []string{SystemJWTFile, AccountJWTFile}
	more, err := filepath.Glob(filepath.Join(dir, AccountsDir, "*.jwt"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrServerAuth, err)
	}
	for _, f := range more {
		files = append(files, filepath.Join(AccountsDir, filepath.Base(f)))
	}
	for _, f := range files {
		j, err := readJWT(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		sa.AccountJWTs = append(sa.AccountJWTs, j)
	}
	if _, err := sa.Operator(); err != nil {
		return nil, err
	}
	return &sa, nil
}

// Validate checks the operator JWT, the system account and every preload
// (signed by one of the operator's signing keys), without touching disk.
func (a *ServerAuth) Validate() error {
	_, err := a.Operator()
	return err
}

// Operator decodes and checks everything (as Validate), returning the
// operator claims.
func (a *ServerAuth) Operator() (*jwt.OperatorClaims, error) {
	if a == nil || a.OperatorJWT == "" {
		return nil, fmt.Errorf("%w: operator jwt: required; copy operator.jwt from the authority directory", ErrServerAuth)
	}
	oc, err := jwt.DecodeOperatorClaims(a.OperatorJWT)
	if err != nil {
		return nil, fmt.Errorf("%w: operator jwt: %v", ErrServerAuth, err)
	}
	vr := jwt.CreateValidationResults()
	oc.Validate(vr)
	if vr.IsBlocking(true) {
		return nil, fmt.Errorf("%w: operator jwt: %v", ErrServerAuth, vr.Errors())
	}
	if oc.SystemAccount == "" {
		return nil, fmt.Errorf("%w: operator jwt names no system account; re-create it with auth.Init", ErrServerAuth)
	}
	if a.SystemAccount != "" && a.SystemAccount != oc.SystemAccount {
		return nil, fmt.Errorf("%w: system account %s is not the operator's (%s)", ErrServerAuth, a.SystemAccount, oc.SystemAccount)
	}
	for i, j := range a.AccountJWTs {
		ac, err := jwt.DecodeAccountClaims(j)
		if err != nil {
			return nil, fmt.Errorf("%w: account jwt %d: %v", ErrServerAuth, i, err)
		}
		if !oc.DidSign(ac) {
			return nil, fmt.Errorf("%w: account jwt %d (%s) is not signed by this operator; use the JWTs of the same authority", ErrServerAuth, i, ac.Name)
		}
	}
	return oc, nil
}

// ResolverPath is the resolver directory for a node whose store dir is
// storeDir (see ResolverDir).
func (a *ServerAuth) ResolverPath(storeDir string) string {
	dir := a.ResolverDir
	if dir == "" {
		dir = DefaultResolverDir
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(storeDir, dir)
	}
	return dir
}
