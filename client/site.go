package client

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"

	"github.com/tocsin-project/tocsin/subjects"
)

// StoredAtSite reports whether the last message published was acknowledged
// by a member site's outbox (`tocsin site`, JetStream domain "site-...")
// rather than the hub: the site forwards it once the hub is reachable.
func (c *Client) StoredAtSite() bool { return strings.HasPrefix(c.lastDomain.Load(), "site-") }

// StoredInRegion is the region whose INGEST-<region> took the last
// message published, on a channel with a stream set per region (the
// member's home region; docs/REGIONS.md); "" on a single cluster.
func (c *Client) StoredInRegion() string {
	region, ok := strings.CutPrefix(c.lastStream.Load(), subjects.StreamIngest+"-")
	if !ok {
		return ""
	}
	return region
}

// HubReachable asks the site the client is connected to whether its link
// to the hub is up. It answers false when no site answers.
func (c *Client) HubReachable(ctx context.Context) bool {
	msg, err := c.nc.RequestWithContext(ctx, subjects.SvcSite, nil)
	if err != nil {
		return false
	}
	var st struct {
		LinkUp bool `json:"link_up"`
	}
	return json.Unmarshal(msg.Data, &st) == nil && st.LinkUp
}

// atomicString is a string read and written from several goroutines.
type atomicString struct{ v atomic.Value }

func (a *atomicString) Load() string {
	s, _ := a.v.Load().(string)
	return s
}

func (a *atomicString) Store(s string) { a.v.Store(s) }
