package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// directory is the agent's copy of the public member directory: an
// envelope.Registry for its Verifier. It is fetched at start, refreshed
// every refreshEvery and, at most once per minRefresh, when a message
// names a sender or key it does not hold; the last copy is kept on disk so
// that a restart without the cluster still verifies the backlog.
type directory struct {
	nc           *nats.Conn
	path         string
	refreshEvery time.Duration
	minRefresh   time.Duration
	log          *zap.Logger

	mu      sync.RWMutex
	byID    map[string]*tocsinv1.Member
	fetched time.Time // last successful fetch; zero while only the disk copy is known
	tried   time.Time // last attempt
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

// refresh fetches the directory and saves it.
func (d *directory) refresh(ctx context.Context) error {
	d.mu.Lock()
	d.tried = time.Now()
	d.mu.Unlock()
	ms, err := records.FetchDirectory(ctx, d.nc)
	if err != nil {
		return err
	}
	d.set(ms)
	d.mu.Lock()
	d.fetched = time.Now()
	d.mu.Unlock()
	if d.path != "" {
		data, _, err := records.EncodeMembers(ms, 1<<62)
		if err == nil {
			err = writeFileAtomic(d.path, data, false)
		}
		if err != nil {
			d.log.Warn("cannot save the member directory", zap.Error(err))
		}
	}
	return nil
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
