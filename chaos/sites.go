package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/chaos/lazyfs"
	"github.com/tocsin-project/tocsin/internal/freeport"
)

// siteProc is one `tocsin site` process (docs/SITES.md): a member's site,
// a leaf node of the hub whose leaf link runs only through the harness's
// proxies, one to each node members use. The member's agent and its
// publisher connect to the site, not the hub.
type siteProc struct {
	member string
	listen string
	// links[k] carries the site's leaf link to the k-th member node.
	links []*Proxy
	proc  *proc
	// store is the site's data directory on a lazy file system (nil: a
	// plain directory); backing is the directory under it.
	store   *lazyfs.FS
	backing string
}

// siteCredsOf is where the harness writes a member's site credentials.
func siteCredsOf(dir, member string) string { return filepath.Join(dir, member+"-site.creds") }

// newSiteProc issues member's site credentials (tocsin members site-creds:
// the hub's site consumers are created then) and prepares, without
// starting it, the site process dialling every member node through a
// proxy of its own. With lazy, its data directory is a lazy file system.
func (c *cluster) newSiteProc(ctx context.Context, member, credsDir string, lazy bool) (_ *siteProc, err error) {
	creds := siteCredsOf(credsDir, member)
	if _, err := runTool(ctx, c.bin, append([]string{"members", "site-creds", member, "--out", creds}, c.adminFlags()...)...); err != nil {
		return nil, err
	}
	ports, err := freeport.Pick("127.0.0.1", 1)
	if err != nil {
		return nil, err
	}
	s := &siteProc{member: member, listen: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	var hub []string
	for _, n := range c.memberNodes() {
		p, err := NewProxy("site "+member+"→"+n.name, n.leaf)
		if err != nil {
			return nil, err
		}
		s.links = append(s.links, p)
		hub = append(hub, "nats-leaf://"+p.Addr())
	}
	data := filepath.Join(c.dir, "sites", member)
	if lazy {
		s.backing = filepath.Join(c.dir, "sites-backing", member)
		if s.store, err = lazyfs.Mount(s.backing, data); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	s.proc = newProc("site-"+member, c.bin, filepath.Join(c.dir, "logs", "site-"+member+".log"), "site",
		"--hub", strings.Join(hub, ","), "--creds", creds, "--tls-ca", c.CA(), "--data", data, "--listen", s.listen, "--log-level", "warn")
	return s, nil
}

// URL is where the member's agent and publisher connect.
func (s *siteProc) URL() string { return "nats://" + s.listen }

// Cut refuses the site's leaf link through every proxy (a WAN cut).
func (s *siteProc) Cut() {
	for _, p := range s.links {
		p.Cut()
	}
}

// SetRate paces the site's leaf link to bytesPerSecond each way (0:
// unlimited).
func (s *siteProc) SetRate(bytesPerSecond int) {
	for _, p := range s.links {
		p.SetRate(bytesPerSecond)
	}
}

// Heal lets the leaf link through at full speed again.
func (s *siteProc) Heal() {
	for _, p := range s.links {
		p.Heal()
		p.SetRate(0)
	}
}

// linkStats sums the site's proxies: connections open now, accepted and
// refused so far, bytes paced so far.
func (s *siteProc) linkStats() (open, accepted, refused int, paced int64) {
	for _, p := range s.links {
		a, r := p.Stats()
		open, accepted, refused, paced = open+p.Open(), accepted+a, refused+r, paced+p.Paced()
	}
	return
}

// ConfirmCut waits until the site's leaf link is gone (no connection open
// through its proxies) and the site has tried again and been refused.
func (s *siteProc) ConfirmCut(ctx context.Context) (string, error) {
	_, _, refusedBefore, _ := s.linkStats()
	var open, refused int
	err := poll(ctx, 100*time.Millisecond, func() error {
		open, _, refused, _ = s.linkStats()
		switch {
		case open > 0:
			return fmt.Errorf("%d leaf connections still open", open)
		case refused <= refusedBefore:
			return fmt.Errorf("the site has not tried its link again since the cut")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("no leaf connection open, %d redials refused so far", refused-refusedBefore), nil
}

// PowerLoss SIGKILLs the site and, when its data is on a lazy file
// system, takes what it had not fsynced. It says what was lost.
func (s *siteProc) PowerLoss(ctx context.Context) (string, error) {
	if err := s.proc.Kill(ctx); err != nil {
		return "", err
	}
	if s.store == nil {
		return "SIGKILL (the page cache kept: no lazy file system in this run)", nil
	}
	if err := s.store.Unmount(); err != nil {
		return "", err
	}
	if err := s.store.LoseUnsynced(); err != nil {
		return "", fmt.Errorf("site %s: lose unsynced writes: %w", s.member, err)
	}
	st := s.store.Stats()
	fs, err := lazyfs.Mount(s.backing, s.store.Mountpoint())
	if err != nil {
		return "", err
	}
	s.store = fs
	return fmt.Sprintf("SIGKILL, unsynced writes lost: %d B in %d files (%d writes, %d fsyncs seen)", st.LostBytes, st.LostFiles, st.Writes, st.Fsyncs), nil
}

// close kills the site and closes its proxies and lazy file system.
func (s *siteProc) close() {
	if s.proc != nil {
		s.proc.Cleanup()
	}
	for _, p := range s.links {
		p.Close()
	}
	if s.store != nil {
		_ = s.store.Unmount()
	}
}

// siteOrder is which agents' members run a site first: agt-2 (two
// sectors), agt-4 (a sector few alerts go to), agt-1, agt-3.
var siteOrder = []int{1, 3, 0, 2}

// startSites starts the sites of the first Options.Sites members of
// siteOrder among specs (marking them), and waits until each is ready.
func (w *world) startSites(ctx context.Context, specs []AgentSpec, lazy bool) error {
	order := append([]int(nil), siteOrder...)
	for i := len(siteOrder); i < len(specs); i++ {
		order = append(order, i)
	}
	for _, i := range order {
		if len(w.sites) == w.opts.Sites {
			break
		}
		if i >= len(specs) {
			continue
		}
		specs[i].Site = true
		s, err := w.cl.newSiteProc(ctx, specs[i].Member, w.creds, lazy)
		if err != nil {
			return err
		}
		w.sites = append(w.sites, s)
		if err := s.proc.Start(); err != nil {
			return err
		}
	}
	w.progress("%d sites (tocsin site) of %s, leaf links through proxies, data on lazy file systems: %v", len(w.sites), w.siteMembers(), lazy)
	for _, s := range w.sites {
		if err := s.waitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

// siteMembers names the sites' members.
func (w *world) siteMembers() string {
	var out []string
	for _, s := range w.sites {
		out = append(out, s.member)
	}
	return strings.Join(out, ", ")
}

// siteOf is member's site, nil when it has none.
func (w *world) siteOf(member string) *siteProc {
	for _, s := range w.sites {
		if s.member == member {
			return s
		}
	}
	return nil
}

// waitReady waits until the site's latest start says it is ready (its
// streams and its member's consumers made, its listener open).
func (s *siteProc) waitReady(ctx context.Context) error {
	return poll(ctx, 100*time.Millisecond, func() error {
		log := readLog(s.proc.log)
		if i := strings.LastIndex(log, "=== "); i >= 0 && strings.Contains(log[i:], "ready; stop") {
			return nil
		}
		if !s.proc.Running() {
			return fmt.Errorf("site of %s exited: %s", s.member, lastLine(s.proc.log))
		}
		return fmt.Errorf("site of %s not ready yet", s.member)
	})
}

// readLog is the text of a process's log ("" when it has none yet).
func readLog(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}
