package lazyfs

import (
	"encoding/binary"
	"syscall"
	"time"
)

// The parts of the Linux FUSE kernel ABI (include/uapi/linux/fuse.h,
// protocol 7.31) this file system speaks.

const (
	kernelMajor = 7
	kernelMinor = 31
	rootID      = 1

	inHeaderSize  = 40
	outHeaderSize = 16
	attrSize      = 88
	entryOutSize  = 40 + attrSize
	attrOutSize   = 16 + attrSize
	initOutSize   = 64
	openOutSize   = 16
	statfsOutSize = 80
	writeInSize   = 40
	direntBase    = 24

	maxWrite   = 1 << 20
	bufferSize = maxWrite + 64<<10

	// attrTTL is how long the kernel may cache attributes and entries.
	attrTTL = time.Second
)

// Opcodes.
const (
	opLookup      = 1
	opForget      = 2
	opGetattr     = 3
	opSetattr     = 4
	opMkdir       = 9
	opUnlink      = 10
	opRmdir       = 11
	opRename      = 12
	opOpen        = 14
	opRead        = 15
	opWrite       = 16
	opStatfs      = 17
	opRelease     = 18
	opFsync       = 20
	opFlush       = 25
	opInit        = 26
	opOpendir     = 27
	opReaddir     = 28
	opReleasedir  = 29
	opFsyncdir    = 30
	opAccess      = 34
	opCreate      = 35
	opInterrupt   = 36
	opDestroy     = 38
	opBatchForget = 42
	opRename2     = 45
)

// INIT flags.
const (
	initAsyncRead = 1 << 0
	initBigWrites = 1 << 5
	initMaxPages  = 1 << 22
)

// SETATTR valid bits.
const (
	setattrMode  = 1 << 0
	setattrSize  = 1 << 3
	setattrAtime = 1 << 4
	setattrMtime = 1 << 5
)

var le = binary.LittleEndian

// inHeader is fuse_in_header.
type inHeader struct {
	len    uint32
	opcode uint32
	unique uint64
	nodeid uint64
}

func parseInHeader(b []byte) inHeader {
	return inHeader{len: le.Uint32(b[0:]), opcode: le.Uint32(b[4:]), unique: le.Uint64(b[8:]), nodeid: le.Uint64(b[16:])}
}

// putAttr writes fuse_attr for st into b (attrSize bytes).
func putAttr(b []byte, st *syscall.Stat_t) {
	le.PutUint64(b[0:], st.Ino)
	le.PutUint64(b[8:], uint64(st.Size))
	le.PutUint64(b[16:], uint64(st.Blocks))
	le.PutUint64(b[24:], uint64(st.Atim.Sec))
	le.PutUint64(b[32:], uint64(st.Mtim.Sec))
	le.PutUint64(b[40:], uint64(st.Ctim.Sec))
	le.PutUint32(b[48:], uint32(st.Atim.Nsec))
	le.PutUint32(b[52:], uint32(st.Mtim.Nsec))
	le.PutUint32(b[56:], uint32(st.Ctim.Nsec))
	le.PutUint32(b[60:], st.Mode)
	le.PutUint32(b[64:], uint32(st.Nlink))
	le.PutUint32(b[68:], st.Uid)
	le.PutUint32(b[72:], st.Gid)
	le.PutUint32(b[76:], uint32(st.Rdev))
	le.PutUint32(b[80:], uint32(st.Blksize))
	le.PutUint32(b[84:], 0)
}

// entryOut is fuse_entry_out for node id with attributes st.
func entryOut(id uint64, st *syscall.Stat_t) []byte {
	b := make([]byte, entryOutSize)
	le.PutUint64(b[0:], id)
	le.PutUint64(b[8:], 0)
	le.PutUint64(b[16:], uint64(attrTTL/time.Second))
	le.PutUint64(b[24:], uint64(attrTTL/time.Second))
	putAttr(b[40:], st)
	return b
}

// attrOut is fuse_attr_out with attributes st.
func attrOut(st *syscall.Stat_t) []byte {
	b := make([]byte, attrOutSize)
	le.PutUint64(b[0:], uint64(attrTTL/time.Second))
	putAttr(b[16:], st)
	return b
}

// openOut is fuse_open_out for handle fh.
func openOut(fh uint64) []byte {
	b := make([]byte, openOutSize)
	le.PutUint64(b[0:], fh)
	return b
}

// cstring is the NUL-terminated string at the start of b, and what follows.
func cstring(b []byte) (string, []byte) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:]
		}
	}
	return string(b), nil
}

// appendDirent appends fuse_dirent for one entry; false when it does not
// fit in size bytes.
func appendDirent(out []byte, size int, ino, off uint64, typ uint32, name string) ([]byte, bool) {
	rec := (direntBase + len(name) + 7) &^ 7
	if len(out)+rec > size {
		return out, false
	}
	b := make([]byte, rec)
	le.PutUint64(b[0:], ino)
	le.PutUint64(b[8:], off)
	le.PutUint32(b[16:], uint32(len(name)))
	le.PutUint32(b[20:], typ)
	copy(b[direntBase:], name)
	return append(out, b...), true
}
