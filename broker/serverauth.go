package broker

import (
	"fmt"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/tocsin-project/tocsin/auth"
)

// ApplyAuth turns so into an operator-mode server: it trusts the operator,
// sets the system account, and installs a full directory resolver (account
// JWT updates pushed on $SYS.REQ.CLAIMS.UPDATE take effect on every node and
// are synchronised between nodes) holding the preloads. It refuses options
// that would let anyone in without credentials: no_auth_user (for clients,
// websocket or MQTT), configured users, nkeys or accounts.
func ApplyAuth(a *auth.ServerAuth, so *server.Options, storeDir string) error {
	oc, err := a.Operator()
	if err != nil {
		return err
	}
	if so.NoAuthUser != "" || so.Websocket.NoAuthUser != "" || so.MQTT.NoAuthUser != "" {
		return fmt.Errorf("%w: no_auth_user is set; operator mode never lets a connection in without credentials", auth.ErrServerAuth)
	}
	if len(so.Users) > 0 || len(so.Nkeys) > 0 || len(so.Accounts) > 0 || so.Username != "" || so.Authorization != "" {
		return fmt.Errorf("%w: users, nkeys, accounts or a token are configured; in operator mode every user comes from a JWT", auth.ErrServerAuth)
	}
	dir := a.ResolverPath(storeDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: resolver dir %q: %v; choose a directory this user can write", auth.ErrServerAuth, dir, err)
	}
	res, err := server.NewDirAccResolver(dir, 0, 0, server.NoDelete)
	if err != nil {
		return fmt.Errorf("%w: resolver dir %q: %v", auth.ErrServerAuth, dir, err)
	}
	for _, j := range a.AccountJWTs {
		ac, _ := jwt.DecodeAccountClaims(j) // checked by Operator()
		if err := res.Store(ac.Subject, j); err != nil {
			res.Close()
			return fmt.Errorf("%w: preload account %s: %v", auth.ErrServerAuth, ac.Name, err)
		}
	}
	so.TrustedOperators = []*jwt.OperatorClaims{oc}
	so.SystemAccount = oc.SystemAccount
	so.AccountResolver = res
	return nil
}
