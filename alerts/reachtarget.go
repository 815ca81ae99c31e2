package alerts

import (
	"context"
	"slices"
	"sync"

	"github.com/tocsin-project/tocsin/internal/kvread"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// routedMsg is what the router keeps of a routed message to file its
// receipts: who sent it and where it went.
type routedMsg struct {
	sender     string
	sectors    []string
	recipients []string
}

// outcomeCacheMax bounds the routed messages kept for filing receipts; a
// full cache is emptied (an advisory's ten thousand receipts need one
// look-up, not ten thousand).
const outcomeCacheMax = 8192

// routedCache is the routed messages recently looked up, by id: a routed
// outcome never changes.
type routedCache struct {
	mu sync.Mutex
	m  map[string][]routedMsg
}

// routedOf returns the routed messages with id (of refSender, when not
// empty): usually one.
func (r *Router) routedOf(ctx context.Context, refSender, id string) ([]routedMsg, error) {
	c := &r.routedMsgs
	c.mu.Lock()
	got, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		if refSender == "" {
			return got, nil
		}
		if i := slices.IndexFunc(got, func(m routedMsg) bool { return m.sender == refSender }); i >= 0 {
			return got[i : i+1], nil
		}
	}
	var out []routedMsg
	add := func(sender string, o *tocsinv1.Outcome) {
		if o.GetState() == tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
			out = append(out, routedMsg{sender: sender, sectors: o.GetSectors(), recipients: o.GetRecipients()})
		}
	}
	if refSender != "" {
		o, err := r.Outcome(ctx, refSender, id)
		if err != nil {
			return nil, err
		}
		add(refSender, o)
	} else {
		entries, err := kvread.LastOf(ctx, r.d.JS.Conn(), kvread.APIPrefix(r.d.JS.Options()), r.bucket(records.BucketRouted), "*."+id)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			var o tocsinv1.Outcome
			if unmarshalOutcome(e.Value, &o) {
				add(e.Key[:len(e.Key)-len(id)-1], &o)
			}
		}
	}
	if len(out) > 0 {
		c.mu.Lock()
		if c.m == nil || len(c.m) >= outcomeCacheMax {
			c.m = map[string][]routedMsg{}
		}
		if refSender == "" || !ok {
			c.m[id] = out
		} else {
			c.m[id] = append(slices.Clone(got), out...)
		}
		c.mu.Unlock()
	}
	return out, nil
}

// reachKeys returns the REACH keys member's receipts of m go to: one per
// addressed sector member belongs to (the shard of the sector's set that
// holds it), else the direct set; and the sectors whose affected set it
// counts in.
func (r *Router) reachKeys(m routedMsg, id string, member *tocsinv1.Member) (keys, sectors []string) {
	for _, s := range m.sectors {
		if !slices.Contains(member.GetSectors(), s) {
			continue
		}
		shards := records.ReachShards(len(r.d.Registry.IDsInSectors([]string{s})))
		keys = append(keys, records.ReachSetKey(m.sender, id, s, records.ReachShard(member.GetId(), shards)))
		sectors = append(sectors, s)
	}
	if len(keys) == 0 {
		keys = append(keys, records.ReachSetKey(m.sender, id, records.ReachDirect, 0))
	}
	return keys, sectors
}
