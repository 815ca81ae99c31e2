package broker

import (
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/tocsin-project/tocsin/auth"
)

// DefaultResolverSync is how often a node's account resolver compares its
// account JWTs with another node's unless told otherwise (NodeOptions
// ResolverSync). nats-server's own default, one minute, makes every node
// of a cluster whose nodes differ (as they do throughout the push of
// thousands of accounts) receive the whole directory every minute, on the
// route the meta layer shares: see ApplyAuth.
const DefaultResolverSync = 10 * time.Minute

// ApplyAuth turns so into an operator-mode server: it trusts the operator,
// sets the system account, and installs a full directory resolver (account
// JWT updates pushed on $SYS.REQ.CLAIMS.UPDATE take effect on every node and
// are synchronised between nodes) holding the preloads. It refuses options
// that would let anyone in without credentials: no_auth_user (for clients,
// websocket or MQTT), configured users, nkeys or accounts.
//
// Every sync (0: DefaultResolverSync) the resolver sends the hash of all
// its JWTs to one node of the cluster, picked at random (itself included);
// a node whose hash differs answers with every JWT it holds, one message
// each ($SYS.REQ.CLAIMS.PACK), and the asker keeps the newer of each pair.
// Both ends do it inline on the route's read loop of the system account,
// which also carries the meta layer's raft traffic (the streams' goes over
// another connection, routePoolSize): at 10,000 members the answer is about
// 140 MB. Pushes reach every node that is up at once; the
// sync is what brings a node that was down during a push up to date, so it
// bounds how long such a node keeps a revoked member's old claims after it
// returns (`tocsin members sync` pushes again at once).
func ApplyAuth(a *auth.ServerAuth, so *server.Options, storeDir string, sync time.Duration) error {
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
	if sync < 0 {
		return fmt.Errorf("%w: resolver sync %v is negative; give a positive duration such as 10m", auth.ErrServerAuth, sync)
	}
	if sync == 0 {
		sync = DefaultResolverSync
	}
	res, err := server.NewDirAccResolver(dir, 0, sync, server.NoDelete)
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

// defaultRoutePoolSize is nats-server's default number of pooled route
// connections between two nodes.
const defaultRoutePoolSize = 3

// routePoolSize is how many pooled route connections a node with a keeps
// to each other node: nats-server's default, or the next size up under
// which no account of a's preloads that may hold streams (JetStream
// enabled: TOCSIN) shares a connection with the system account. Each
// account's traffic goes over the connection of index hash(account) %
// size (FNV-1a, as nats-server computes it). With cluster_traffic "owner"
// in its claims (TOCSIN's, auth.Authority) the raft traffic of an
// account's streams and consumers is its own, so it never waits behind the
// system account's connection, where the resolvers' sync is answered (a
// pack of every account JWT, see ApplyAuth). Nodes of different pool
// sizes still route to each other (nats-server 2.11 and later).
func routePoolSize(a *auth.ServerAuth) int {
	oc, err := a.Operator()
	if err != nil {
		return defaultRoutePoolSize
	}
	var streams []string
	for _, j := range a.AccountJWTs {
		ac, err := jwt.DecodeAccountClaims(j)
		if err != nil || ac.Subject == oc.SystemAccount || ac.Limits.JetStreamLimits.DiskStorage == 0 {
			continue
		}
		streams = append(streams, ac.Subject)
	}
	for size := defaultRoutePoolSize; size < 64; size++ {
		sys, apart := poolIndex(size, oc.SystemAccount), true
		for _, acc := range streams {
			apart = apart && poolIndex(size, acc) != sys
		}
		if apart {
			return size
		}
	}
	return defaultRoutePoolSize
}

// poolIndex is the pooled route connection account's traffic takes among
// size, as nats-server's computeRoutePoolIdx.
func poolIndex(size int, account string) int {
	h := fnv.New32a()
	h.Write([]byte(account))
	return int(h.Sum32() % uint32(size))
}
