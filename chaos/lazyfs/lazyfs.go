// Package lazyfs is a FUSE file system for crash experiments: it passes
// every operation through to a backing directory, remembers for each file
// what was written since its last fsync, and on LoseUnsynced forgets it,
// as the page cache is lost in a power failure or kernel crash. A process
// kill keeps the page cache and so cannot show what an unsynced write
// risks; this can. It is the idea of Jepsen's LazyFS, reduced to what a
// JetStream store needs.
//
// The model: a file's data is durable up to its last fsync (or
// fdatasync); bytes written or truncated away since are undone. A file
// created since the mount and never synced comes back empty. Metadata
// (create, mkdir, rename, unlink) is taken as durable at once. Mounting
// needs root (or CAP_SYS_ADMIN) and /dev/fuse.
package lazyfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// FS is one mounted lazy file system.
type FS struct {
	backing, mountpoint string
	dev                 *os.File

	mu      sync.Mutex
	nodes   map[uint64]string // node id → path relative to backing
	ids     map[string]uint64
	nextID  uint64
	handles map[uint64]*handle
	nextFH  uint64
	files   map[uint64]*fileState // by backing inode
	stats   Stats

	done chan struct{}
	err  error
}

// handle is an open file or directory.
type handle struct {
	f   *os.File
	ino uint64
	dir []os.DirEntry
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
	dev, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40000,user_id=%d,group_id=%d,allow_other,default_permissions", dev.Fd(), os.Getuid(), os.Getgid())
	if err := syscall.Mount("lazyfs", mountpoint, "fuse.lazyfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		dev.Close()
		return nil, fmt.Errorf("%w: mount %s: %v (needs root and /dev/fuse)", ErrUnavailable, mountpoint, err)
	}
	fs := &FS{backing: backing, mountpoint: mountpoint, dev: dev, nodes: map[uint64]string{rootID: ""}, ids: map[string]uint64{"": rootID},
		nextID: rootID + 1, handles: map[uint64]*handle{}, nextFH: 1, files: map[uint64]*fileState{}, done: make(chan struct{})}
	go fs.serve()
	if err := fs.settlePoll(); err != nil {
		_ = fs.Unmount()
		return nil, fmt.Errorf("lazyfs: %s: %w", mountpoint, err)
	}
	return fs, nil
}

// settlePoll makes the kernel stop asking the file system whether its
// files can be polled. It asks the first time a file of the mount is added
// to an epoll set, and the Go runtime adds every file it opens to its
// netpoller from inside the runtime, as if running Go code: when the
// process that serves the mount opens a file on it (the tests do), a stop
// of the world for the garbage collector can then wait for that goroutine
// while it waits for the answer of a serving goroutine that the stop keeps
// from running. Asked once here through a system call the runtime knows
// may block, the file system answers ENOSYS, and the kernel does not ask
// this mount again.
func (fs *FS) settlePoll() error {
	probe := filepath.Join(fs.mountpoint, ".lazyfs-poll-probe")
	fd, err := syscall.Open(probe, syscall.O_CREAT|syscall.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create the poll probe: %w", err)
	}
	defer syscall.Close(fd)
	defer syscall.Unlink(probe)
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer syscall.Close(ep)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	// syscall.EpollCtl is a raw system call (the runtime is not told it
	// may block): this is the blocking kind.
	if _, _, e := syscall.Syscall6(syscall.SYS_EPOLL_CTL, uintptr(ep), syscall.EPOLL_CTL_ADD, uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0); e != 0 && e != syscall.EPERM {
		return fmt.Errorf("poll the probe: %w", e)
	}
	return nil
}

// Mountpoint is where the file system is mounted.
func (fs *FS) Mountpoint() string { return fs.mountpoint }

// Stats returns the counters.
func (fs *FS) Stats() Stats {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.stats
}

// Unmount detaches the file system and waits for its server to end.
func (fs *FS) Unmount() error {
	err := syscall.Unmount(fs.mountpoint, syscall.MNT_DETACH)
	select {
	case <-fs.done:
	case <-time.After(10 * time.Second):
		fs.dev.Close()
		<-fs.done
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
