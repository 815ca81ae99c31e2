package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/tocsin-project/tocsin/records"
)

func nothingLost(ctx context.Context, w *world) (string, error) {
	d := Deliveries{}
	var problems []string
	for _, m := range w.readers() {
		id := m.GetId()
		want, err := w.c.routedTo(ctx, m)
		if err != nil {
			return "", err
		}
		ids := slices.Collect(maps.Keys(want))
		l := w.fleet.written
		if err := l.wait(ctx, func() bool { return allIn(l, id, ids) }); err != nil {
			return "", fmt.Errorf("%s's agent never wrote some of the %d messages routed to it: %w", id, len(want), err)
		}
		lines, err := feedIDs(w.fleet.jsonl(id))
		if err != nil {
			return "", err
		}
		have := map[string]bool{}
		for _, x := range lines {
			have[x] = true
		}
		var missing []string
		for x := range want {
			if !have[x] {
				missing = append(missing, x)
			}
		}
		twice := repeated(lines)
		d.Agents++
		d.Routed += len(want)
		d.Written += len(have)
		d.Missing += len(missing)
		d.Twice += len(twice)
		if len(missing) > 0 || len(twice) > 0 {
			problems = append(problems, fmt.Sprintf("%s: missing %s, twice %s", id, list(missing), list(twice)))
		}
	}
	if err := w.hooksHaveAll(ctx); err != nil {
		return "", err
	}
	if err := w.countReceipts(ctx); err != nil {
		return "", err
	}
	if msgs, err := w.messages(ctx); err == nil {
		w.sum.Messages = msgs
	} else {
		return "", err
	}
	w.sum.Deliveries = d
	if len(problems) > 0 {
		return "", fmt.Errorf("lost or doubled: %s", strings.Join(problems, "; "))
	}
	return fmt.Sprintf("%d agents: %d messages routed to them, every one in their JSONL feeds and webhooks: none missing, none twice",
		d.Agents, d.Routed), nil
}

// countReceipts counts, from the REACH bucket, the receipts of the
// messages that ask for them, once every organisation reached has sent its
// delivered receipt.
func (w *world) countReceipts(ctx context.Context) error {
	for _, m := range []struct {
		key, what string
		to        []string
	}{
		{"alert", "the flash alert", w.inSectors("patient-care", "health-it")},
		{"advisory", "the advisory", w.inSectors(w.sectors()...)},
		{"red", "the TLP:RED note", []string{irFirm, staffing}},
	} {
		id := w.ids[m.key]
		if err := w.receipts(ctx, id, m.to, "delivered", func(r records.Reach) bool { return !r.Delivered.IsZero() }); err != nil {
			return err
		}
		rc := Receipts{Message: m.what, ID: id, Organisations: len(m.to)}
		for _, who := range m.to {
			r, err := settle(ctx, func() (records.Reach, error) { return w.c.reach(ctx, id, who) })
			if err != nil {
				return err
			}
			rc.Delivered++
			if !r.Acknowledged.IsZero() {
				rc.Acknowledged++
			}
			if !r.Actioned.IsZero() {
				rc.Actioned++
			}
		}
		w.sum.Receipts = append(w.sum.Receipts, rc)
	}
	return nil
}

// hooksHaveAll waits until every agent's webhook receiver has every
// message its agent wrote.
func (w *world) hooksHaveAll(ctx context.Context) error {
	for _, m := range w.readers() {
		id := m.GetId()
		written := w.fleet.written.all(id)
		ids := slices.Collect(maps.Keys(written))
		err := w.hooks.seen.wait(ctx, func() bool { return allIn(w.hooks.seen, id, ids) })
		if err != nil {
			return fmt.Errorf("%s's webhook receiver lacks some of its %d messages: %w", id, len(ids), err)
		}
	}
	return nil
}

// allIn reports whether member's ledger has every id.
func allIn(l *ledger, member string, ids []string) bool {
	for _, id := range ids {
		if _, ok := l.get(member, id); !ok {
			return false
		}
	}
	return true
}

// messages counts what members sent, by kind, from INGEST.
func (w *world) messages(ctx context.Context) (map[string]uint64, error) {
	got, err := w.c.ingested(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for subject, n := range got {
		kind, _, _ := strings.Cut(strings.TrimPrefix(subject, "tocsin.ingest."), ".")
		out[kind] += n
	}
	return out, nil
}

// feedIDs are the ids of a JSONL feed's lines, in order.
func feedIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 4<<20)
	for sc.Scan() {
		var rec struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s: a line that is not a record: %w", path, err)
		}
		ids = append(ids, rec.ID)
	}
	return ids, sc.Err()
}

// repeated are the ids that occur more than once.
func repeated(ids []string) []string {
	seen := map[string]int{}
	var out []string
	for _, id := range ids {
		if seen[id]++; seen[id] == 2 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
