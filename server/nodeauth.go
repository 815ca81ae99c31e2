package server

import (
	"fmt"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
)

// globalAccount is the account of a node without authentication.
const globalAccount = "$G"

// configErr is an invalid node config, naming the field at fault.
func configErr(field, format string, v ...any) error {
	return fmt.Errorf("%w: %s: %s", broker.ErrInvalidOptions, field, fmt.Sprintf(format, v...))
}

// security checks that c secures the node, or says explicitly that it
// must not, and loads the node's authentication (nil with insecure_no_auth).
func (c NodeConfig) security() (*auth.ServerAuth, error) {
	clustered := len(c.Cluster.Routes) > 0
	switch {
	case c.InsecureNoTLS && (c.TLS != nil || c.Cluster.TLS != nil):
		return nil, configErr("insecure_no_tls", "set together with tls; remove one of them")
	case !c.InsecureNoTLS && c.TLS == nil:
		return nil, configErr("tls", "required: the node's certificate, key and CA (PEM); `tocsin init --tls-hosts ...` "+
			"writes them to KEYS/nodes/%s/tls/, or use your own PKI (see deploy/README.md); insecure_no_tls: true runs in plain text, for an isolated experiment only", c.Name)
	case !c.InsecureNoTLS && clustered && c.Cluster.TLS == nil:
		return nil, configErr("cluster.tls", "required on a cluster: without it whoever reaches the route port joins the cluster and bypasses every permission; "+
			"give the node's cert, key and the CA that signed every node's certificate (see deploy/README.md)")
	}
	if c.InsecureNoAuth {
		if c.Auth != "" || c.ServiceCreds != "" {
			return nil, configErr("insecure_no_auth", "set together with auth or service_creds; remove one of them")
		}
		return nil, nil
	}
	if c.Auth == "" {
		return nil, configErr("auth", "required: the directory with this node's operator.jwt, SYS.jwt, TOCSIN.jwt and accounts/. "+
			"Create them once, on the admin workstation, with `tocsin init --dir KEYS --nodes <every node's name>`, copy KEYS/nodes/%s/ to this machine "+
			"and set auth: and service_creds: (see deploy/README.md); insecure_no_auth: true lets anyone in, for an isolated experiment only", c.Name)
	}
	sa, err := auth.LoadServerAuth(c.Auth)
	if err != nil {
		return nil, configErr("auth", "%v", err)
	}
	if c.ServiceCreds == "" {
		return nil, configErr("service_creds", "required with auth: the node's service credentials, KEYS/nodes/%s/service.creds from tocsin init", c.Name)
	}
	if _, err := serviceAccount(sa, c.ServiceCreds); err != nil {
		return nil, configErr("service_creds", "%v", err)
	}
	return sa, nil
}

// serviceAccount checks that path holds service credentials of the
// authority sa belongs to (a TOCSIN user signed by the service key, not a
// member's or a system user's) and returns the account they log in to.
func serviceAccount(sa *auth.ServerAuth, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%v; copy service.creds from KEYS/nodes/<node>/", err)
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return "", fmt.Errorf("%s is not a .creds file: %v", path, err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	account := uc.IssuerAccount
	if account == "" {
		account = uc.Issuer
	}
	for _, j := range sa.AccountJWTs {
		ac, err := jwt.DecodeAccountClaims(j)
		if err != nil || ac.Subject != account {
			continue
		}
		if scope, _ := ac.SigningKeys.GetScope(uc.Issuer); scope != nil {
			return "", fmt.Errorf("%s holds the credentials of %q, a member or admin; a node needs its service.creds from tocsin init", path, uc.Name)
		}
		if ac.Limits.JetStreamLimits.DiskStorage == 0 {
			return "", fmt.Errorf("%s logs in to account %s, which has no JetStream; a node needs its service.creds from tocsin init", path, ac.Name)
		}
		return account, nil
	}
	return "", fmt.Errorf("%s belongs to account %s, which the auth directory does not hold; use the service.creds written by the same tocsin init as the auth files", path, account)
}

// nodeServices returns how a node's services connect (their credentials)
// and the account their streams live in.
func nodeServices(o Options) ([]nats.Option, string, error) {
	if o.Node.Auth == nil {
		if o.ServiceCreds == "" {
			return nil, globalAccount, nil
		}
		return []nats.Option{nats.UserCredentials(o.ServiceCreds)}, globalAccount, nil
	}
	if o.ServiceCreds == "" {
		return nil, "", configErr("service_creds", "required with auth: the node's services need credentials (tocsin init writes KEYS/nodes/<node>/service.creds)")
	}
	account, err := serviceAccount(o.Node.Auth, o.ServiceCreds)
	if err != nil {
		return nil, "", configErr("service_creds", "%v", err)
	}
	return []nats.Option{nats.UserCredentials(o.ServiceCreds)}, account, nil
}
