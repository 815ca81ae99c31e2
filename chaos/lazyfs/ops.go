package lazyfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// handle answers one request. Requests are answered one at a time.
func (fs *FS) handle(h inHeader, b []byte) ([]byte, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	switch h.opcode {
	case opInit:
		return fs.init(b)
	case opLookup:
		name, _ := cstring(b)
		rel, ok := fs.child(h.nodeid, name)
		if !ok {
			return nil, syscall.ENOENT
		}
		return fs.entry(rel)
	case opGetattr:
		path, ok := fs.path(h.nodeid)
		if !ok {
			return nil, syscall.ENOENT
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return nil, errno(err)
		}
		return attrOut(&st), 0
	case opSetattr:
		return fs.setattr(h, b)
	case opMkdir:
		mode, umask := le.Uint32(b[0:]), le.Uint32(b[4:])
		name, _ := cstring(b[8:])
		rel, ok := fs.child(h.nodeid, name)
		if !ok {
			return nil, syscall.EINVAL
		}
		if err := syscall.Mkdir(filepath.Join(fs.backing, rel), mode&^umask); err != nil {
			return nil, errno(err)
		}
		return fs.entry(rel)
	case opUnlink, opRmdir:
		name, _ := cstring(b)
		rel, ok := fs.child(h.nodeid, name)
		if !ok {
			return nil, syscall.ENOENT
		}
		path := filepath.Join(fs.backing, rel)
		var err error
		if h.opcode == opUnlink {
			fs.forgetInode(path)
			err = syscall.Unlink(path)
		} else {
			err = syscall.Rmdir(path)
		}
		if err != nil {
			return nil, errno(err)
		}
		if id, ok := fs.ids[rel]; ok {
			delete(fs.ids, rel)
			delete(fs.nodes, id)
		}
		return nil, 0
	case opRename, opRename2:
		newdir, names := le.Uint64(b[0:]), b[8:]
		if h.opcode == opRename2 {
			if le.Uint32(b[8:]) != 0 {
				return nil, syscall.EINVAL // no RENAME_NOREPLACE / EXCHANGE / WHITEOUT
			}
			names = b[16:]
		}
		oldName, rest := cstring(names)
		newName, _ := cstring(rest)
		from, ok1 := fs.child(h.nodeid, oldName)
		to, ok2 := fs.child(newdir, newName)
		if !ok1 || !ok2 {
			return nil, syscall.ENOENT
		}
		fs.forgetInode(filepath.Join(fs.backing, to))
		if err := syscall.Rename(filepath.Join(fs.backing, from), filepath.Join(fs.backing, to)); err != nil {
			return nil, errno(err)
		}
		fs.renamed(from, to)
		return nil, 0
	case opOpen:
		path, ok := fs.path(h.nodeid)
		if !ok {
			return nil, syscall.ENOENT
		}
		return fs.open(path, int(le.Uint32(b[0:])), 0, nil)
	case opCreate:
		flags, mode, umask := int(le.Uint32(b[0:])), le.Uint32(b[4:]), le.Uint32(b[8:])
		name, _ := cstring(b[16:])
		rel, ok := fs.child(h.nodeid, name)
		if !ok {
			return nil, syscall.EINVAL
		}
		entry := func() ([]byte, syscall.Errno) { return fs.entry(rel) }
		return fs.open(filepath.Join(fs.backing, rel), flags|os.O_CREATE, mode&^umask, entry)
	case opRead:
		hd := fs.handles[le.Uint64(b[0:])]
		if hd == nil {
			return nil, syscall.EBADF
		}
		data := make([]byte, le.Uint32(b[16:]))
		n, err := hd.f.ReadAt(data, int64(le.Uint64(b[8:])))
		if n == 0 && err != nil && !errors.Is(err, io.EOF) {
			return nil, errno(err)
		}
		return data[:n], 0
	case opWrite:
		return fs.write(b)
	case opFsync:
		hd := fs.handles[le.Uint64(b[0:])]
		if hd == nil {
			return nil, syscall.EBADF
		}
		fs.stats.Fsyncs++
		if info, err := hd.f.Stat(); err == nil {
			// What the file holds now is on the disk: nothing to undo.
			fs.files[hd.ino] = &fileState{durable: info.Size()}
		}
		return nil, 0
	case opFlush, opFsyncdir, opAccess:
		return nil, 0
	case opRelease, opReleasedir:
		fh := le.Uint64(b[0:])
		if hd := fs.handles[fh]; hd != nil {
			if hd.f != nil {
				hd.f.Close()
			}
			delete(fs.handles, fh)
		}
		return nil, 0
	case opOpendir:
		path, ok := fs.path(h.nodeid)
		if !ok {
			return nil, syscall.ENOENT
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, errno(err)
		}
		fh := fs.nextFH
		fs.nextFH++
		fs.handles[fh] = &handle{dir: entries}
		return openOut(fh), 0
	case opReaddir:
		return fs.readdir(b)
	case opStatfs:
		var s syscall.Statfs_t
		if err := syscall.Statfs(fs.backing, &s); err != nil {
			return nil, errno(err)
		}
		out := make([]byte, statfsOutSize)
		for i, v := range []uint64{s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree} {
			le.PutUint64(out[8*i:], v)
		}
		le.PutUint32(out[40:], uint32(s.Bsize))
		le.PutUint32(out[44:], uint32(s.Namelen))
		le.PutUint32(out[48:], uint32(s.Frsize))
		return out, 0
	}
	return nil, syscall.ENOSYS
}

// init answers INIT: protocol 7.31, big writes.
func (fs *FS) init(b []byte) ([]byte, syscall.Errno) {
	if le.Uint32(b[0:]) != kernelMajor {
		return nil, syscall.EPROTO
	}
	offered := le.Uint32(b[12:])
	out := make([]byte, initOutSize)
	le.PutUint32(out[0:], kernelMajor)
	le.PutUint32(out[4:], min(le.Uint32(b[4:]), kernelMinor))
	le.PutUint32(out[8:], le.Uint32(b[8:]))
	le.PutUint32(out[12:], offered&(initAsyncRead|initBigWrites|initMaxPages))
	le.PutUint16(out[16:], 16)
	le.PutUint16(out[18:], 12)
	le.PutUint32(out[20:], maxWrite)
	le.PutUint32(out[24:], 1)
	le.PutUint16(out[28:], maxWrite/4096)
	return out, 0
}

// open opens path for a new handle; entry, for CREATE, answers the entry
// before the handle.
func (fs *FS) open(path string, flags int, mode uint32, entry func() ([]byte, syscall.Errno)) ([]byte, syscall.Errno) {
	// Truncation arrives as SETATTR; writes come with their offsets. A
	// handle opened for writing only is opened for reading too: a write
	// below the durable size first saves the bytes it replaces (the
	// kernel has checked the caller's access mode already).
	flags &^= os.O_TRUNC | os.O_APPEND | syscall.O_NOCTTY
	if flags&syscall.O_ACCMODE == os.O_WRONLY {
		flags = flags&^syscall.O_ACCMODE | os.O_RDWR
	}
	f, err := os.OpenFile(path, flags, os.FileMode(mode&0o7777))
	if err != nil {
		return nil, errno(err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errno(err)
	}
	ino := info.Sys().(*syscall.Stat_t).Ino
	fs.state(ino, info.Size())
	fh := fs.nextFH
	fs.nextFH++
	fs.handles[fh] = &handle{f: f, ino: ino}
	if entry == nil {
		return openOut(fh), 0
	}
	e, errno := entry()
	if errno != 0 {
		f.Close()
		delete(fs.handles, fh)
		return nil, errno
	}
	return append(e, openOut(fh)...), 0
}

// write answers WRITE, saving what it overwrites below the durable size.
func (fs *FS) write(b []byte) ([]byte, syscall.Errno) {
	hd := fs.handles[le.Uint64(b[0:])]
	if hd == nil {
		return nil, syscall.EBADF
	}
	off, size := int64(le.Uint64(b[8:])), le.Uint32(b[16:])
	data := b[writeInSize:]
	if uint32(len(data)) < size {
		return nil, syscall.EINVAL
	}
	data = data[:size]
	info, err := hd.f.Stat()
	if err != nil {
		return nil, errno(err)
	}
	st := fs.state(hd.ino, info.Size())
	if err := st.replacing(hd.f, off, int64(len(data))); err != nil {
		return nil, errno(err)
	}
	n, err := hd.f.WriteAt(data, off)
	if err != nil {
		return nil, errno(err)
	}
	fs.stats.Writes++
	out := make([]byte, 8)
	le.PutUint32(out, uint32(n))
	return out, 0
}

// setattr answers SETATTR: mode, size (saving what a cut removes below the
// durable size) and times.
func (fs *FS) setattr(h inHeader, b []byte) ([]byte, syscall.Errno) {
	path, ok := fs.path(h.nodeid)
	if !ok {
		return nil, syscall.ENOENT
	}
	valid := le.Uint32(b[0:])
	if valid&setattrMode != 0 {
		if err := syscall.Chmod(path, le.Uint32(b[68:])&0o7777); err != nil {
			return nil, errno(err)
		}
	}
	if valid&setattrSize != 0 {
		size := int64(le.Uint64(b[16:]))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, errno(err)
		}
		info, err := f.Stat()
		if err == nil {
			st := fs.state(info.Sys().(*syscall.Stat_t).Ino, info.Size())
			if size < info.Size() {
				err = st.replacing(f, size, info.Size()-size)
			} else {
				st.dirty = true
			}
		}
		if err == nil {
			err = f.Truncate(size)
		}
		f.Close()
		if err != nil {
			return nil, errno(err)
		}
	}
	if valid&(setattrAtime|setattrMtime) != 0 {
		at := time.Unix(int64(le.Uint64(b[32:])), int64(le.Uint32(b[56:])))
		mt := time.Unix(int64(le.Uint64(b[40:])), int64(le.Uint32(b[60:])))
		_ = os.Chtimes(path, at, mt)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return nil, errno(err)
	}
	return attrOut(&st), 0
}

// readdir answers READDIR from the listing taken at OPENDIR; an entry's
// offset is its place in the listing plus one.
func (fs *FS) readdir(b []byte) ([]byte, syscall.Errno) {
	hd := fs.handles[le.Uint64(b[0:])]
	if hd == nil {
		return nil, syscall.EBADF
	}
	off, size := le.Uint64(b[8:]), int(le.Uint32(b[16:]))
	var out []byte
	for i := int(off); i < len(hd.dir); i++ {
		e := hd.dir[i]
		info, err := e.Info()
		if err != nil {
			continue
		}
		st := info.Sys().(*syscall.Stat_t)
		var ok bool
		if out, ok = appendDirent(out, size, st.Ino, uint64(i+1), (st.Mode&syscall.S_IFMT)>>12, e.Name()); !ok {
			break
		}
	}
	return out, 0
}
