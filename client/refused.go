package client

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrNotAccepted is wrapped when the cluster answered but refused the
// credentials: revoked, replaced by a rotated key, or issued by another
// authority. It is not an outage: connecting again will not help.
var ErrNotAccepted = errors.New("credentials not accepted by the cluster")

// ConnectError explains a failed nats.Connect to servers as who: a refusal
// of the credentials wraps ErrNotAccepted; anything else is returned as is
// (the cluster is unreachable). When every server failed, nats.go reports
// "no servers available" whatever the cause, so the first server is asked
// once more, alone, to tell a refusal from an outage. opts are the options
// of the failed connect.
func ConnectError(err error, servers, who string, opts ...nats.Option) error {
	if err == nil {
		return nil
	}
	if !refusal(err) && errors.Is(err, nats.ErrNoServers) {
		first, _, _ := strings.Cut(servers, ",")
		probe := append(append([]nats.Option{}, opts...), nats.NoReconnect(), nats.MaxReconnects(0), nats.Timeout(3*time.Second))
		if nc, perr := nats.Connect(first, probe...); perr == nil {
			nc.Close()
		} else if refusal(perr) {
			err = perr
		}
	}
	if refusal(err) {
		return fmt.Errorf("%w: the credentials of %s are revoked, replaced by a new key, or of another cluster (the server said %q); ask an admin for new ones (tocsin members rotate-key %s)",
			ErrNotAccepted, who, strings.TrimPrefix(err.Error(), "nats: "), who)
	}
	return err
}

// refusal reports whether err is the server refusing the credentials.
func refusal(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAuthExpired) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "authorization violation") || strings.Contains(msg, "authentication revoked") || strings.Contains(msg, "authentication expired")
}
