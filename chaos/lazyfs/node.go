package lazyfs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a file or directory of the mount: go-fuse's loopback node, with
// the operations that change a file's data (open, create, truncate) or
// drop a file (unlink, rename over it) taken over to keep its durability
// state, and those that would write around it refused.
type node struct {
	*gofs.LoopbackNode
	lfs *FS
}

var (
	_ gofs.NodeWrapChilder    = (*node)(nil)
	_ gofs.NodeOpener         = (*node)(nil)
	_ gofs.NodeCreater        = (*node)(nil)
	_ gofs.NodeSetattrer      = (*node)(nil)
	_ gofs.NodeUnlinker       = (*node)(nil)
	_ gofs.NodeRenamer        = (*node)(nil)
	_ gofs.NodeTmpfiler       = (*node)(nil)
	_ gofs.NodeCopyFileRanger = (*node)(nil)
)

// WrapChild makes every node the loopback creates one of ours.
func (n *node) WrapChild(ctx context.Context, ops gofs.InodeEmbedder) gofs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*gofs.LoopbackNode), lfs: n.lfs}
}

// path is the backing path of n.
func (n *node) path() string {
	return filepath.Join(n.RootData.Path, n.Path(n.Root()))
}

func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	f, errno := n.lfs.open(n.path(), flags, 0)
	if errno != 0 {
		return nil, 0, errno
	}
	return f, 0, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	f, errno := n.lfs.open(filepath.Join(n.path(), name), flags|syscall.O_CREAT, mode)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	// The loopback's lookup makes the node, numbered as its lookups do.
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno == 0 && out.Attr.Ino != f.ino {
		errno = syscall.EAGAIN // replaced since it was opened
	}
	if errno != 0 {
		f.Release(ctx)
		return nil, nil, 0, errno
	}
	return ch, f, 0, 0
}

// Setattr cuts a file itself, saving what a cut removes below the durable
// size; the loopback sets the rest (mode, owner, times).
func (n *node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		if errno := n.truncate(fh, int64(size)); errno != 0 {
			return errno
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	return n.LoopbackNode.Setattr(ctx, fh, in, out)
}

// truncate cuts the file of n, through its handle fh if it has one, to
// size.
func (n *node) truncate(fh gofs.FileHandle, size int64) syscall.Errno {
	f, ok := fh.(*file)
	if !ok {
		of, err := os.OpenFile(n.path(), os.O_RDWR, 0)
		if err != nil {
			return gofs.ToErrno(err)
		}
		defer of.Close()
		f = &file{f: of}
	}
	fs := n.lfs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	info, err := f.f.Stat()
	if err != nil {
		return gofs.ToErrno(err)
	}
	st := fs.state(info.Sys().(*syscall.Stat_t).Ino, info.Size())
	if size < info.Size() {
		err = st.replacing(f.f, size, info.Size()-size)
	} else {
		st.dirty = true
	}
	if err == nil {
		err = f.f.Truncate(size)
	}
	return gofs.ToErrno(err)
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	p := filepath.Join(n.path(), name)
	fs := n.lfs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var st syscall.Stat_t
	known := syscall.Lstat(p, &st) == nil
	if err := syscall.Unlink(p); err != nil {
		return gofs.ToErrno(err)
	}
	if known {
		fs.dropped(&st)
	}
	return 0
}

// Rename takes no flags (RENAME_NOREPLACE, EXCHANGE, WHITEOUT); a file
// renamed keeps its state, one replaced loses it.
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if flags != 0 {
		return syscall.EINVAL
	}
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	to := filepath.Join(np.path(), newName)
	fs := n.lfs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var from, old syscall.Stat_t
	replaces := syscall.Lstat(to, &old) == nil && syscall.Lstat(filepath.Join(n.path(), name), &from) == nil && from.Ino != old.Ino
	if err := syscall.Rename(filepath.Join(n.path(), name), to); err != nil {
		return gofs.ToErrno(err)
	}
	if replaces {
		fs.dropped(&old)
	}
	return 0
}

// Tmpfile and CopyFileRange would write around the durability state: the
// kernel is told they are not implemented (it copies by reads and writes).
func (n *node) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.ENOSYS
}

func (n *node) CopyFileRange(ctx context.Context, fhIn gofs.FileHandle, offIn uint64, out *gofs.Inode, fhOut gofs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// dropped forgets the state of the file st describes once its last name
// is gone: the backing file system may give its inode number to a new
// file. A file still open is forgotten when it is released.
func (fs *FS) dropped(st *syscall.Stat_t) {
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Nlink <= 1 {
		delete(fs.files, st.Ino)
	}
}

// file is an open file: reads pass through; writes save what they
// overwrite below the durable size; fsync makes the file durable as it
// is. It implements no allocate, ioctl or passthrough, which would write
// around that.
type file struct {
	f   *os.File
	ino uint64
	lfs *FS
}

var (
	_ gofs.FileReader    = (*file)(nil)
	_ gofs.FileWriter    = (*file)(nil)
	_ gofs.FileFsyncer   = (*file)(nil)
	_ gofs.FileGetattrer = (*file)(nil)
	_ gofs.FileReleaser  = (*file)(nil)
)

// open opens path for a new handle.
func (fs *FS) open(path string, flags, mode uint32) (*file, syscall.Errno) {
	// Truncation arrives as SETATTR; writes come with their offsets. A
	// handle opened for writing only is opened for reading too: a write
	// below the durable size first saves the bytes it replaces (the
	// kernel has checked the caller's access mode already).
	flags &^= syscall.O_TRUNC | syscall.O_APPEND | syscall.O_NOCTTY | fuse.FMODE_EXEC
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		flags = flags&^syscall.O_ACCMODE | syscall.O_RDWR
	}
	f, err := os.OpenFile(path, int(flags), os.FileMode(mode&0o7777))
	if err != nil {
		return nil, gofs.ToErrno(err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, gofs.ToErrno(err)
	}
	ino := info.Sys().(*syscall.Stat_t).Ino
	fs.mu.Lock()
	fs.state(ino, info.Size())
	fs.mu.Unlock()
	return &file{f: f, ino: ino, lfs: fs}, 0
}

func (f *file) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := f.f.ReadAt(dest, off)
	if n == 0 && err != nil && !errors.Is(err, io.EOF) {
		return nil, gofs.ToErrno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write saves what it overwrites below the durable size, then writes.
func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	fs := f.lfs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	info, err := f.f.Stat()
	if err != nil {
		return 0, gofs.ToErrno(err)
	}
	if err := fs.state(f.ino, info.Size()).replacing(f.f, off, int64(len(data))); err != nil {
		return 0, gofs.ToErrno(err)
	}
	n, err := f.f.WriteAt(data, off)
	if err != nil {
		return 0, gofs.ToErrno(err)
	}
	fs.stats.Writes++
	return uint32(n), 0
}

// Fsync makes what the file holds now durable: nothing to undo. The
// backing file is not synced: the model needs no more.
func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	fs := f.lfs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.stats.Fsyncs++
	if info, err := f.f.Stat(); err == nil {
		fs.files[f.ino] = &fileState{durable: info.Size()}
	}
	return 0
}

func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	info, err := f.f.Stat()
	if err != nil {
		return gofs.ToErrno(err)
	}
	out.FromStat(info.Sys().(*syscall.Stat_t))
	return 0
}

// Release closes the file, forgetting its state if it has no name left.
func (f *file) Release(ctx context.Context) syscall.Errno {
	fs := f.lfs
	fs.mu.Lock()
	if info, err := f.f.Stat(); err == nil && info.Sys().(*syscall.Stat_t).Nlink == 0 {
		delete(fs.files, f.ino)
	}
	fs.mu.Unlock()
	return gofs.ToErrno(f.f.Close())
}
