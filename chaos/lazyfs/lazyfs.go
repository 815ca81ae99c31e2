// Package lazyfs is a FUSE file system for crash experiments: it passes
// every operation through to a backing directory, remembers for each file
// what was written since its last fsync, and on LoseUnsynced forgets it,
// as the page cache is lost in a power failure or kernel crash. A process
// kill keeps the page cache and so cannot show what an unsynced write
// risks; this can. It is the idea of Jepsen's LazyFS, reduced to what a
// JetStream store needs, on go-fuse's loopback file system
// (github.com/hanwen/go-fuse/v2) with the operations that write a file's
// data taken over (node.go).
//
// The model: a file's data is durable up to its last fsync (or
// fdatasync); bytes written or truncated away since are undone. A file
// created since the mount and never synced comes back empty. Metadata
// (create, mkdir, rename, unlink) is taken as durable at once. Mounting
// needs root (or CAP_SYS_ADMIN) and /dev/fuse: it calls mount(2) itself,
// not fusermount.
package lazyfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is one mounted lazy file system.
type FS struct {
	backing, mountpoint string
	srv                 *fuse.Server

	mu    sync.Mutex
	files map[uint64]*fileState // by backing inode
	stats Stats
}

// fileState is what a file owes the disk since its last fsync.
type fileState struct {
	durable int64
	undo    []undo
	dirty   bool
}

// undo restores bytes that a write or truncation replaced below the
// durable size.
type undo struct {
	off  int64
	data []byte
}

// Stats counts what the file system saw and lost.
type Stats struct {
	// Writes and Fsyncs count the WRITE and FSYNC requests.
	Writes, Fsyncs int
	// LostFiles and LostBytes are what the last LoseUnsynced undid.
	LostFiles int
	LostBytes int64
}

// ErrUnavailable is wrapped when FUSE cannot be mounted here.
var ErrUnavailable = errors.New("fuse unavailable")

const (
	// attrTTL is how long the kernel may cache attributes and entries.
	attrTTL = time.Second
	// maxWrite is the largest WRITE the kernel is asked to send.
	maxWrite = 1 << 20
)

// Mount mounts a lazy view of backing at mountpoint (both created if
// missing) and serves it until Unmount.
func Mount(backing, mountpoint string) (*FS, error) {
	for _, d := range []string{backing, mountpoint} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	root, err := gofs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, err
	}
	fs := &FS{backing: backing, mountpoint: mountpoint, files: map[uint64]*fileState{}}
	ttl := attrTTL
	opts := &gofs.Options{EntryTimeout: &ttl, AttrTimeout: &ttl, MountOptions: fuse.MountOptions{
		FsName: "lazyfs", Name: "lazyfs", AllowOther: true, Options: []string{"default_permissions"},
		MaxWrite: maxWrite,
		// mount(2) itself, as root, and no fallback to fusermount.
		DirectMountStrict: true,
		// The kernel would ask for security.capability before each write.
		DisableXAttrs: true,
	}}
	// go-fuse opens /dev/fuse without O_CLOEXEC when it mounts directly,
	// and its poll probe (below) opens a file of the mount so: under
	// ForkLock no process started meanwhile inherits either, and the fd
	// is made close-on-exec before the lock is let go. (A node process
	// holding it would keep the connection alive after this one died.)
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fs.srv, err = fuse.NewServer(gofs.NewNodeFS(&node{LoopbackNode: root.(*gofs.LoopbackNode), lfs: fs}, opts), mountpoint, &opts.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("%w: mount %s: %v (needs root and /dev/fuse)", ErrUnavailable, mountpoint, err)
	}
	closeFuseOnExec()
	go fs.srv.Serve()
	// WaitMount makes the kernel stop asking the file system whether its
	// files can be polled. It asks the first time a file of the mount is
	// added to an epoll set, and the Go runtime adds every file it opens
	// to its netpoller from inside the runtime, as if running Go code:
	// when the process that serves the mount opens a file on it (the
	// tests do), a stop of the world for the garbage collector could then
	// wait for that goroutine while it waits for the answer of a serving
	// goroutine that the stop keeps from running. go-fuse asks once
	// through poll(2), a system call the runtime knows may block, and
	// answers ENOSYS: the kernel does not ask this mount again.
	if err := fs.srv.WaitMount(); err != nil {
		_ = fs.Unmount()
		return nil, fmt.Errorf("lazyfs: %s: %w", mountpoint, err)
	}
	return fs, nil
}

// closeFuseOnExec marks every descriptor of /dev/fuse of this process
// close-on-exec.
func closeFuseOnExec() {
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == "/dev/fuse" {
			syscall.CloseOnExec(fd)
		}
	}
}

// Mountpoint is where the file system is mounted.
func (fs *FS) Mountpoint() string { return fs.mountpoint }

// Stats returns the counters.
func (fs *FS) Stats() Stats {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.stats
}

// Unmount detaches the file system and waits for its server to end: at
// once unless a file on it is still open.
func (fs *FS) Unmount() error {
	err := syscall.Unmount(fs.mountpoint, syscall.MNT_DETACH)
	done := make(chan struct{})
	go func() { fs.srv.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("unmount %s: detached, but its server still runs after 10s (a file on it is open)", fs.mountpoint)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", fs.mountpoint, err)
	}
	return nil
}

// LoseUnsynced undoes, in the backing directory, every write and
// truncation since each file's last fsync: what a power failure loses.
// Call it after Unmount (the kernel's cache of the mount would hide it).
func (fs *FS) LoseUnsynced() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.stats.LostFiles, fs.stats.LostBytes = 0, 0
	return filepath.WalkDir(fs.backing, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := fs.files[info.Sys().(*syscall.Stat_t).Ino]
		if st == nil || !st.dirty {
			return nil
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if size := info.Size(); size > st.durable {
			fs.stats.LostBytes += size - st.durable
		}
		if err := f.Truncate(st.durable); err != nil {
			return err
		}
		for i := len(st.undo) - 1; i >= 0; i-- {
			u := st.undo[i]
			fs.stats.LostBytes += int64(len(u.data))
			if _, err := f.WriteAt(u.data, u.off); err != nil {
				return err
			}
		}
		fs.stats.LostFiles++
		*st = fileState{durable: st.durable}
		return f.Sync()
	})
}

// state is the durability state of the file with inode ino, whose
// current size is size: a file first seen now is durable as it is.
func (fs *FS) state(ino uint64, size int64) *fileState {
	st := fs.files[ino]
	if st == nil {
		st = &fileState{durable: size}
		fs.files[ino] = st
	}
	return st
}

// replacing notes that [off, off+n) of a file with state st is about to
// be overwritten or cut, saving what it held below the durable size. The
// file may be shorter than its durable size (cut since the fsync, then
// written again, as os.WriteFile does): what lies past its end was saved
// by the cut.
func (st *fileState) replacing(f *os.File, off, n int64) error {
	st.dirty = true
	if off >= st.durable {
		return nil
	}
	end := min(off+n, st.durable)
	old := make([]byte, end-off)
	k, err := f.ReadAt(old, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if k > 0 {
		st.undo = append(st.undo, undo{off: off, data: old[:k]})
	}
	return nil
}

// Available reports whether a lazy file system can be mounted here, by
// mounting one under dir and unmounting it.
func Available(dir string) error {
	fs, err := Mount(filepath.Join(dir, "backing"), filepath.Join(dir, "mnt"))
	if err != nil {
		return err
	}
	if err := fs.Unmount(); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}
