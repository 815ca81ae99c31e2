package agent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
)

// dirCounts are the directory's whole and incremental fetches so far.
func dirCounts(d *directory) (full, changes int, rev uint64) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.full, d.changes, d.rev
}

// TestTheDirectoryComesWholeOnceThenAsChanges: an agent fetches the
// member directory whole the first time only; its refreshes ask for the
// changes since its revision, and a revocation reaches every agent that
// way; a revision the cluster cannot answer from is fetched whole again;
// a restarted agent carries on from its saved revision.
func TestTheDirectoryComesWholeOnceThenAsChanges(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var agents []*Agent
	states := map[string]string{}
	for _, id := range []string{"riverside", "valley-general", "hhs-liaison"} {
		dir := t.TempDir()
		states[id] = filepath.Join(dir, "state")
		j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
		if err != nil {
			t.Fatal(err)
		}
		opts := w.agentOptions(id, states[id], j)
		opts.DirectoryRefresh = time.Second
		a, _ := w.start(opts)
		agents = append(agents, a)
	}
	for _, a := range agents {
		testwait.For(t, 30*time.Second, a.Member()+" live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
		if full, _, rev := dirCounts(a.dir); full != 1 || rev == 0 {
			t.Fatalf("%s at start: %d whole fetches, revision %d; want one, with a revision", a.Member(), full, rev)
		}
	}
	if _, err := w.Registry.Revoke(ctx, "hilltop", time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		testwait.For(t, 60*time.Second, "the revocation in "+a.Member()+"'s directory", testwait.True(func() bool {
			m, err := a.dir.Member(ctx, "hilltop")
			return err == nil && m.GetRevokedAt() != nil
		}))
		if full, changes, _ := dirCounts(a.dir); full != 1 || changes == 0 {
			t.Fatalf("%s: %d whole fetches and %d of changes; want the revocation as a change", a.Member(), full, changes)
		}
	}

	// A revision the cluster is not at (its bucket created again): whole.
	d := agents[0].dir
	d.mu.Lock()
	d.rev += 1 << 40
	d.mu.Unlock()
	if err := d.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if full, _, rev := dirCounts(d); full != 2 || rev >= 1<<40 {
		t.Fatalf("after an unknown revision: %d whole fetches, revision %d; want a second whole fetch", full, rev)
	}

	// A new directory from the saved copy and revision asks for changes.
	_, _, rev := dirCounts(d)
	again := newDirectory(w.NC, filepath.Join(states["riverside"], "directory.pb"), time.Minute, d.log)
	if err := again.load(); err != nil {
		t.Fatal(err)
	}
	if _, _, saved := dirCounts(again); saved != rev {
		t.Fatalf("saved revision %d, want %d", saved, rev)
	}
	if err := again.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if full, changes, _ := dirCounts(again); full != 0 || changes != 1 {
		t.Fatalf("from the saved copy: %d whole fetches and %d of changes, want changes only", full, changes)
	}
	if m, err := again.Member(ctx, "hilltop"); err != nil || m.GetRevokedAt() == nil {
		t.Fatalf("the saved copy's hilltop: %v %v", m, err)
	}
}
