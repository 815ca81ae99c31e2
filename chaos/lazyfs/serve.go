package lazyfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// serve reads requests from the kernel and answers each in turn, until
// the file system is unmounted.
func (fs *FS) serve() {
	defer close(fs.done)
	defer fs.dev.Close()
	buf := make([]byte, bufferSize)
	for {
		n, err := syscall.Read(int(fs.dev.Fd()), buf)
		if err != nil {
			switch {
			case errors.Is(err, syscall.EINTR), errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EAGAIN):
				continue
			case errors.Is(err, syscall.ENODEV):
				return
			}
			fs.err = err
			return
		}
		if n < inHeaderSize {
			continue
		}
		h := parseInHeader(buf)
		body := buf[inHeaderSize:n]
		switch h.opcode {
		case opForget, opBatchForget, opInterrupt:
			continue // no reply
		case opDestroy:
			fs.reply(h, 0, nil)
			return
		}
		data, errno := fs.handle(h, body)
		fs.reply(h, errno, data)
	}
}

// reply writes the answer to request h: an errno, or data.
func (fs *FS) reply(h inHeader, errno syscall.Errno, data []byte) {
	out := make([]byte, outHeaderSize+len(data))
	le.PutUint32(out[0:], uint32(len(out)))
	le.PutUint32(out[4:], uint32(-int32(errno)))
	le.PutUint64(out[8:], h.unique)
	copy(out[outHeaderSize:], data)
	_, _ = syscall.Write(int(fs.dev.Fd()), out)
}

// errno maps an error of the os package to the errno the kernel expects.
func errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, os.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, os.ErrPermission):
		return syscall.EACCES
	}
	return syscall.EIO
}

// path is the backing path of node id.
func (fs *FS) path(id uint64) (string, bool) {
	rel, ok := fs.nodes[id]
	return filepath.Join(fs.backing, rel), ok
}

// child is the relative path of name in node parent.
func (fs *FS) child(parent uint64, name string) (string, bool) {
	rel, ok := fs.nodes[parent]
	if !ok || name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return "", false
	}
	return filepath.Join(rel, name), true
}

// entry answers a lookup of rel: its node id and attributes.
func (fs *FS) entry(rel string) ([]byte, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(fs.backing, rel), &st); err != nil {
		return nil, errno(err)
	}
	id, ok := fs.ids[rel]
	if !ok {
		id = fs.nextID
		fs.nextID++
		fs.ids[rel], fs.nodes[id] = id, rel
	}
	return entryOut(id, &st), 0
}

// renamed moves every node at or under from to the same place under to.
func (fs *FS) renamed(from, to string) {
	if id, ok := fs.ids[to]; ok {
		delete(fs.ids, to)
		delete(fs.nodes, id)
	}
	for rel, id := range fs.ids {
		if rel == from || len(rel) > len(from) && rel[:len(from)] == from && rel[len(from)] == '/' {
			nrel := to + rel[len(from):]
			delete(fs.ids, rel)
			fs.ids[nrel], fs.nodes[id] = id, nrel
		}
	}
}

// forgetInode drops the durability state of the file at path, if any.
func (fs *FS) forgetInode(path string) {
	var st syscall.Stat_t
	if syscall.Lstat(path, &st) == nil {
		delete(fs.files, st.Ino)
	}
}
