package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/tocsin-project/tocsin/auth"
)

// sysConn connects to the cluster as a system-account user the benchmark
// signs itself with tocsin init's SYS signing key (the operator's
// material, kept with the keys): it may ask every node for its JetStream
// and raft state ($SYS.REQ.SERVER.PING.JSZ, .RAFTZ), which the system
// users Tocsin issues (auth.IssueSystemUser) may not.
func (c *cluster) sysConn() (*nats.Conn, error) {
	seed := func(name string) (nkeys.KeyPair, error) {
		data, err := os.ReadFile(filepath.Join(c.keys, name))
		if err != nil {
			return nil, err
		}
		return nkeys.FromSeed(bytes.TrimSpace(data))
	}
	sys, err := seed(auth.SystemSeedFile)
	if err != nil {
		return nil, fmt.Errorf("%w: the system account's key: %v", ErrCluster, err)
	}
	signer, err := seed(auth.SystemSignerFile)
	if err != nil {
		return nil, fmt.Errorf("%w: the system account's signing key: %v", ErrCluster, err)
	}
	sysPub, _ := sys.PublicKey()
	user, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	userPub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(userPub)
	uc.Name, uc.IssuerAccount = "scale-bench", sysPub
	token, err := uc.Encode(signer)
	if err != nil {
		return nil, err
	}
	userSeed, _ := user.Seed()
	return nats.Connect(c.URLs(), nats.UserJWTAndSeed(token, string(userSeed)), nats.RootCAs(c.CA()), nats.MaxReconnects(-1), nats.Name("scale bench (system)"))
}

// ping asks every node for what (JSZ, RAFTZ) with opts and decodes each
// answer's data into a new T; it waits for want answers or 5 seconds.
func ping[T any](ctx context.Context, nc *nats.Conn, what string, opts any, want int) (map[string]*T, error) {
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	body, _ := json.Marshal(opts)
	if err := nc.PublishRequest("$SYS.REQ.SERVER.PING."+what, inbox, body); err != nil {
		return nil, err
	}
	out := map[string]*T{}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for len(out) < want {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if len(out) == 0 {
				return nil, fmt.Errorf("%w: no node answered %s: %v", ErrCluster, what, err)
			}
			return out, nil
		}
		var resp struct {
			Server *server.ServerInfo `json:"server"`
			Data   *T                 `json:"data"`
			Error  *server.ApiError   `json:"error"`
		}
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			return nil, fmt.Errorf("%w: %s answer: %v", ErrCluster, what, err)
		}
		if resp.Error != nil || resp.Data == nil || resp.Server == nil {
			return nil, fmt.Errorf("%w: %s answer: %v", ErrCluster, what, resp.Error)
		}
		out[resp.Server.Name] = resp.Data
	}
	return out, nil
}

// raftState is what the nodes' raft groups say at one moment.
type raftState struct {
	// groups is the raft groups per node.
	groups map[string]int
	// metaCommitted is the meta group's highest committed index among the
	// nodes: every meta-layer proposal applied so far.
	metaCommitted uint64
	// metaWAL is the meta group's log on disk, bytes (the largest node's).
	metaWAL uint64
}

// raft reads every node's raft groups (RAFTZ) of the system account (the
// meta group) and of the account holding Tocsin's streams and buckets
// (each raft group lives in its asset's account).
func (c *cluster) raft(ctx context.Context, nc *nats.Conn) (raftState, error) {
	rs := raftState{groups: map[string]int{}}
	for _, acc := range []string{"", c.account} {
		all, err := ping[server.RaftzStatus](ctx, nc, "RAFTZ", server.RaftzEventOptions{RaftzOptions: server.RaftzOptions{AccountFilter: acc}}, len(c.nodes))
		if err != nil {
			return rs, err
		}
		for name, st := range all {
			for _, groups := range *st {
				rs.groups[name] += len(groups)
				if g, ok := groups["_meta_"]; ok {
					rs.metaCommitted = max(rs.metaCommitted, g.Committed)
					rs.metaWAL = max(rs.metaWAL, g.WAL.Bytes)
				}
			}
		}
	}
	return rs, nil
}

// totalGroups is the raft groups of every node together.
func (r raftState) totalGroups() int {
	n := 0
	for _, g := range r.groups {
		n += g
	}
	return n
}

// metaLeader is the name of the node that leads the meta group (JSZ).
func metaLeader(ctx context.Context, nc *nats.Conn, nodes int) (string, error) {
	all, err := ping[server.JSInfo](ctx, nc, "JSZ", server.JszEventOptions{}, nodes)
	if err != nil {
		return "", err
	}
	for _, js := range all {
		if js.Meta != nil && js.Meta.Leader != "" {
			return js.Meta.Leader, nil
		}
	}
	return "", fmt.Errorf("%w: no node names a meta leader", ErrCluster)
}
