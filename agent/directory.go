package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// directory is the agent's copy of the public member directory: an
// envelope.Registry for its Verifier. It is fetched whole the first time,
// then brought up to date with the records changed since the MEMBERS
// revision it is at (records.FetchDirectorySince: a few records rather
// than 2-3 MB at 10,000 members; whole again when the cluster says that
// revision is too old): at start, every refreshEvery and, at most once per
// minRefresh, when a message names a sender, key or sector it does not
// hold. The last copy and its revision are kept on disk so that a restart
// without the cluster still verifies the backlog.
type directory struct {
	nc           *nats.Conn
	path         string
	refreshEvery time.Duration
	minRefresh   time.Duration
	log          *zap.Logger

	mu      sync.RWMutex
	byID    map[string]*tocsinv1.Member
	rev     uint64    // the MEMBERS revision the copy is at; 0: fetch it whole
	fetched time.Time // last successful fetch; zero while only the disk copy is known
	tried   time.Time // last attempt
	// full and changes count the fetches of each kind (tests).
	full, changes int
}

func newDirectory(nc *nats.Conn, path string, refreshEvery time.Duration, log *zap.Logger) *directory {
	return &directory{nc: nc, path: path, refreshEvery: refreshEvery, minRefresh: 10 * time.Second, log: log, byID: map[string]*tocsinv1.Member{}}
}

// load reads the disk copy, if there is one.
func (d *directory) load() error {
	if d.path == "" {
		return nil
	}
	data, err := os.ReadFile(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	ms, err := records.DecodeMembers(data)
	if err != nil {
		d.log.Warn("the saved member directory does not decode; fetching it again", zap.String("path", d.path), zap.Error(err))
		return nil
	}
	d.set(ms)
	// No revision file (an earlier version's copy, or a crash between the
	// two writes): 0, so the first refresh fetches it whole.
	if rev, err := os.ReadFile(d.path + ".rev"); err == nil {
		d.rev, _ = strconv.ParseUint(strings.TrimSpace(string(rev)), 10, 64)
	}
	return nil
}

func (d *directory) set(ms []*tocsinv1.Member) {
	byID := make(map[string]*tocsinv1.Member, len(ms))
	for _, m := range ms {
		byID[m.GetId()] = m
	}
	d.mu.Lock()
	d.byID = byID
	d.mu.Unlock()
}

// refresh brings the copy up to date, with the changes since its revision
// or whole, and saves it.
func (d *directory) refresh(ctx context.Context) error {
	d.mu.Lock()
	d.tried = time.Now()
	since := d.rev
	d.mu.Unlock()
	var ms []*tocsinv1.Member
	var rev uint64
	var err error
	if since > 0 {
		if ms, rev, err = records.FetchDirectorySince(ctx, d.nc, since); err == nil {
			d.merge(ms, rev)
		} else if errors.Is(err, records.ErrDirectoryFull) {
			d.log.Info("the member directory's changes cannot be had; fetching it whole", zap.Error(err))
			since = 0
		} else {
			return err
		}
	}
	if since == 0 {
		if ms, rev, err = records.FetchDirectorySince(ctx, d.nc, 0); err != nil {
			return err
		}
		d.set(ms)
		d.mu.Lock()
		d.rev, d.full = rev, d.full+1
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.fetched = time.Now()
	d.mu.Unlock()
	if d.path != "" && (since == 0 || len(ms) > 0) {
		d.save()
	}
	return nil
}

// merge puts the changed records ms into the copy, which is then at rev.
func (d *directory) merge(ms []*tocsinv1.Member, rev uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	byID := maps.Clone(d.byID)
	for _, m := range ms {
		byID[m.GetId()] = m
	}
	d.byID, d.changes = byID, d.changes+1
	if rev > 0 {
		d.rev = rev
	}
}

// save writes the copy and then its revision.
func (d *directory) save() {
	d.mu.RLock()
	ms := slices.Collect(maps.Values(d.byID))
	rev := d.rev
	d.mu.RUnlock()
	data, _, err := records.EncodeMembers(ms, 1<<62)
	if err == nil {
		err = writeFileAtomic(d.path, data, false)
	}
	if err == nil {
		err = writeFileAtomic(d.path+".rev", []byte(strconv.FormatUint(rev, 10)+"\n"), false)
	}
	if err != nil {
		d.log.Warn("cannot save the member directory", zap.Error(err))
	}
}

// refreshIfOld refreshes the copy unless it was fetched within minRefresh,
// and tries at most once per minRefresh. It reports whether it fetched a
// new copy now, and whether the copy is fresh (fetched within minRefresh);
// err is why it is not.
func (d *directory) refreshIfOld(ctx context.Context) (refreshed, fresh bool, err error) {
	d.mu.RLock()
	fetched, tried := d.fetched, d.tried
	d.mu.RUnlock()
	if time.Since(fetched) < d.minRefresh {
		return false, true, nil
	}
	if time.Since(tried) < d.minRefresh {
		return false, false, fmt.Errorf("%w: the last attempt failed less than %s ago", records.ErrDirectory, d.minRefresh)
	}
	if err := d.refresh(ctx); err != nil {
		return false, false, err
	}
	return true, true, nil
}

// due reports whether the periodic refresh is due.
func (d *directory) due() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return time.Since(d.fetched) >= d.refreshEvery && time.Since(d.tried) >= d.minRefresh
}

// known reports whether any copy has been loaded.
func (d *directory) known() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.byID) > 0
}

// Member implements envelope.Registry from the copy held.
func (d *directory) Member(_ context.Context, id string) (*tocsinv1.Member, error) {
	d.mu.RLock()
	m, ok := d.byID[id]
	d.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("member %q: %w", id, envelope.ErrUnknownMember)
	}
	return m, nil
}
