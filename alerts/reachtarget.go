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
// empty) in rr's region: usually one.
func (r *Router) routedOf(ctx context.Context, rr *regionRecords, refSender, id string) ([]routedMsg, error) {
	c := rr.cache
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
		o, err := rr.outcome(ctx, refSender, id)
		if err != nil {
			return nil, err
		}
		add(refSender, o)
	} else {
		entries, err := kvread.LastOf(ctx, r.d.JS.Conn(), kvread.APIPrefix(r.d.JS.Options()), rr.routedBucket, "*."+id)
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

// reachKey is a REACH key a receipt is filed under, and whether it is
// the batcher's own (reachBatcher.writerKey).
type reachKey struct {
	key string
	own bool
}

// reachKeys returns the REACH keys member's receipts of m go to, written
// by b: b's own part of the set of each addressed sector member belongs
// to (of the shard of the sector's set that holds it), else the direct
// set, which every writer shares (few members, and read by its key);
// and the sectors whose affected set it counts in.
func (r *Router) reachKeys(b *reachBatcher, m routedMsg, id string, member *tocsinv1.Member) (keys []reachKey, sectors []string) {
	for _, s := range m.sectors {
		if !slices.Contains(member.GetSectors(), s) {
			continue
		}
		shards := records.ReachShards(len(r.d.Registry.IDsInSectors([]string{s})))
		keys = append(keys, reachKey{b.writerKey(m.sender, id, s, records.ReachShard(member.GetId(), shards)), true})
		sectors = append(sectors, s)
	}
	if len(keys) == 0 {
		keys = append(keys, reachKey{records.ReachSetKey(m.sender, id, records.ReachDirect, 0), false})
	}
	return keys, sectors
}
