package auth

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
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
	if _, err := sa.operator(); err != nil {
		return nil, err
	}
	return &sa, nil
}

// Validate checks the operator JWT, the system account and every preload
// (signed by one of the operator's signing keys), without touching disk.
func (a *ServerAuth) Validate() error {
	_, err := a.operator()
	return err
}

// operator decodes and checks everything, returning the operator claims.
func (a *ServerAuth) operator() (*jwt.OperatorClaims, error) {
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

// Apply turns so into an operator-mode server: it trusts the operator,
// sets the system account, and installs a full directory resolver (account
// JWT updates pushed on $SYS.REQ.CLAIMS.UPDATE take effect on every node and
// are synchronised between nodes) holding the preloads. It refuses options
// that would let anyone in without credentials: no_auth_user (for clients,
// websocket or MQTT), configured users, nkeys or accounts.
func (a *ServerAuth) Apply(so *server.Options, storeDir string) error {
	oc, err := a.operator()
	if err != nil {
		return err
	}
	if so.NoAuthUser != "" || so.Websocket.NoAuthUser != "" || so.MQTT.NoAuthUser != "" {
		return fmt.Errorf("%w: no_auth_user is set; operator mode never lets a connection in without credentials", ErrServerAuth)
	}
	if len(so.Users) > 0 || len(so.Nkeys) > 0 || len(so.Accounts) > 0 || so.Username != "" || so.Authorization != "" {
		return fmt.Errorf("%w: users, nkeys, accounts or a token are configured; in operator mode every user comes from a JWT", ErrServerAuth)
	}
	dir := a.ResolverPath(storeDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: resolver dir %q: %v; choose a directory this user can write", ErrServerAuth, dir, err)
	}
	res, err := server.NewDirAccResolver(dir, 0, 0, server.NoDelete)
	if err != nil {
		return fmt.Errorf("%w: resolver dir %q: %v", ErrServerAuth, dir, err)
	}
	for _, j := range a.AccountJWTs {
		ac, _ := jwt.DecodeAccountClaims(j) // checked by operator()
		if err := res.Store(ac.Subject, j); err != nil {
			res.Close()
			return fmt.Errorf("%w: preload account %s: %v", ErrServerAuth, ac.Name, err)
		}
	}
	so.TrustedOperators = []*jwt.OperatorClaims{oc}
	so.SystemAccount = oc.SystemAccount
	so.AccountResolver = res
	return nil
}
