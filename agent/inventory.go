package agent

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/affected"
)

// inventory is the member's own inventory, matched against every CSAF
// advisory the agent receives (docs/AFFECTED.md). It never leaves the
// agent: its rows go to the member's own sinks only, and a delivered
// receipt says at most that an advisory matched (Options.ReportAffected).
type inventory struct {
	files []string // the inventory files, then the alias file if any
	n     int      // how many of files are inventory files
	log   *zap.Logger
	m     atomic.Pointer[affected.Matcher]
	rows  atomic.Int64
	state atomic.Pointer[InventoryState]
	// seen is what the files were at the last attempt to read them.
	seen []fileStamp
}

// InventoryState is the inventory as GET /healthz shows it.
type InventoryState struct {
	// Rows is how many rows the inventory in use has.
	Rows int64 `json:"rows"`
	// ReadAt is when it was read.
	ReadAt time.Time `json:"read_at"`
	// Error says why the files, changed since, cannot be read: the
	// inventory in use is then the last good one. Empty when they could.
	Error string `json:"error,omitempty"`
}

// fileStamp is what a poll compares: a file's size and modification time,
// or why it cannot be read.
type fileStamp struct {
	size int64
	mod  time.Time
	err  string
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{err: err.Error()}
	}
	return fileStamp{size: fi.Size(), mod: fi.ModTime()}
}

// openInventory reads the inventory files and the alias file (if any): a
// file that cannot be read or parsed is an error saying which and why.
func openInventory(files []string, aliases string, log *zap.Logger) (*inventory, error) {
	inv := &inventory{files: slices.Clone(files), n: len(files), log: log.Named("inventory")}
	if aliases != "" {
		inv.files = append(inv.files, aliases)
	}
	if err := inv.load(); err != nil {
		return nil, fmt.Errorf("%w: inventory: %v; fix the file or leave it out of --inventory", ErrOptions, err)
	}
	inv.log.Info("inventory read", zap.Strings("files", inv.files), zap.Int64("rows", inv.rows.Load()))
	return inv, nil
}

// load reads every file and, when all are good, replaces the matcher. The
// stamps are taken before the files are read: a change made while they are
// read is seen by the next poll.
func (inv *inventory) load() error {
	seen := make([]fileStamp, len(inv.files))
	for i, f := range inv.files {
		seen[i] = stampOf(f)
	}
	inv.seen = seen
	rows, err := affected.Load(inv.files[:inv.n]...)
	if err != nil {
		return err
	}
	var aliases []affected.Alias
	if len(inv.files) > inv.n {
		if aliases, err = affected.LoadAliases(inv.files[inv.n]); err != nil {
			return err
		}
	}
	inv.m.Store(affected.New(rows, aliases...))
	inv.rows.Store(int64(len(rows.Rows)))
	inv.state.Store(&InventoryState{Rows: int64(len(rows.Rows)), ReadAt: time.Now().UTC()})
	return nil
}

// changed reports whether any file differs from the last attempt.
func (inv *inventory) changed() bool {
	for i, f := range inv.files {
		if stampOf(f) != inv.seen[i] {
			return true
		}
	}
	return false
}

// watch reads the files again whenever one changes, every poll, until ctx
// ends. A file that no longer reads keeps the last good inventory in use,
// and the reason is logged once per change of the files.
func (inv *inventory) watch(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !inv.changed() {
			continue
		}
		if err := inv.load(); err != nil {
			st := *inv.state.Load()
			st.Error = err.Error()
			inv.state.Store(&st)
			inv.log.Warn("the inventory changed but cannot be read; still matching with the last good one until it is fixed",
				zap.Int64("rows", inv.rows.Load()), zap.Error(err))
			continue
		}
		inv.log.Info("inventory read again", zap.Strings("files", inv.files), zap.Int64("rows", inv.rows.Load()))
	}
}

// match matches a CSAF document against the inventory in use.
func (inv *inventory) match(doc []byte) ([]affected.Finding, error) {
	return inv.m.Load().Match(doc)
}
