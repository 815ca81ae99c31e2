package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// queue is a durable FIFO on disk: an append-only log of frames and a
// cursor file holding the offset of the first frame not yet handled. A
// frame is a 4-byte big-endian length, the CRC-32C of the item, then the
// item. A frame torn by a crash (short or with a wrong checksum) ends the
// log: it is cut off when the queue is opened, since it was never
// acknowledged to anyone. When every frame is handled and the log has
// grown past compactAt bytes, it is truncated.
type queue struct {
	path, cursorPath string
	// durableCursor fsyncs every cursor update (a lost update re-handles
	// frames after a power loss). Without it the cursor file is written at
	// most every lazyCursorEvery, and at close: a crash re-handles what the
	// last second handled, which suits frames whose handling is idempotent
	// (the outbox's: a re-sent envelope is a duplicate the cluster drops).
	durableCursor bool
	compactAt     int64
	// beforeCompact, when set, runs before the log is truncated.
	beforeCompact func() error

	mu     sync.Mutex
	f      *os.File
	size   int64
	cursor int64
	notify chan struct{}
	// cursorAt is when the cursor file was last written; cursorDirty that
	// the cursor moved since (lazy cursors only).
	cursorAt    time.Time
	cursorDirty bool
}

// lazyCursorEvery is how often a queue without a durable cursor writes it.
const lazyCursorEvery = time.Second

var crcTable = crc32.MakeTable(crc32.Castagnoli)

const frameHeader = 8

// openQueue opens (or creates) the queue name in dir.
func openQueue(dir, name string, durableCursor bool) (*queue, error) {
	q := &queue{
		path:          filepath.Join(dir, name+".log"),
		cursorPath:    filepath.Join(dir, name+".cursor"),
		durableCursor: durableCursor,
		compactAt:     1 << 20,
		notify:        make(chan struct{}, 1),
	}
	f, err := os.OpenFile(q.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", q.path, err)
	}
	q.f = f
	if err := q.recover(); err != nil {
		f.Close()
		return nil, err
	}
	return q, nil
}

// recover reads the cursor, finds the end of the last whole frame and cuts
// off anything after it.
func (q *queue) recover() error {
	data, err := os.ReadFile(q.cursorPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read queue cursor %s: %w", q.cursorPath, err)
	default:
		// An unreadable cursor (a power loss during its rename) counts as
		// 0: frames are handled again, which every user of a queue allows.
		q.cursor, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	}
	st, err := q.f.Stat()
	if err != nil {
		return err
	}
	end, err := q.scanFrom(0, st.Size())
	if err != nil {
		return err
	}
	if end < st.Size() {
		if err := q.f.Truncate(end); err != nil {
			return fmt.Errorf("cut the torn end of %s: %w", q.path, err)
		}
	}
	q.size = end
	if q.cursor > q.size || q.cursor < 0 {
		q.cursor = q.size
	}
	return nil
}

// scanFrom returns the offset after the last whole frame from off on.
func (q *queue) scanFrom(off, size int64) (int64, error) {
	var hdr [frameHeader]byte
	for off+frameHeader <= size {
		if _, err := q.f.ReadAt(hdr[:], off); err != nil {
			return 0, err
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		if off+frameHeader+n > size {
			break
		}
		item := make([]byte, n)
		if _, err := q.f.ReadAt(item, off+frameHeader); err != nil {
			return 0, err
		}
		if crc32.Checksum(item, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		off += frameHeader + n
	}
	return off, nil
}

// append adds items with one write and one fsync; they are durable when it
// returns.
func (q *queue) append(items ...[]byte) error {
	if len(items) == 0 {
		return nil
	}
	var buf []byte
	for _, it := range items {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(it)))
		buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(it, crcTable))
		buf = append(buf, it...)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, err := q.f.Write(buf); err != nil {
		// Whatever part was written is cut off by the next open, or
		// overwritten by nothing: recompute the end from the file.
		_ = q.f.Truncate(q.size)
		return fmt.Errorf("append to %s: %w", q.path, err)
	}
	if err := q.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", q.path, err)
	}
	q.size += int64(len(buf))
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

// peek returns up to max items from the cursor on and the offset after
// the last one returned.
func (q *queue) peek(max int) (items [][]byte, next int64, err error) {
	q.mu.Lock()
	off := q.cursor
	q.mu.Unlock()
	return q.peekFrom(off, max)
}

// peekFrom returns up to max items (all with max < 0) from offset off on,
// and the offset after the last one returned.
func (q *queue) peekFrom(off int64, max int) (items [][]byte, next int64, err error) {
	q.mu.Lock()
	size := q.size
	q.mu.Unlock()
	var hdr [frameHeader]byte
	for (max < 0 || len(items) < max) && off < size {
		if _, err := q.f.ReadAt(hdr[:], off); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		item := make([]byte, n)
		if _, err := q.f.ReadAt(item, off+frameHeader); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		items = append(items, item)
		off += frameHeader + n
	}
	return items, off, nil
}

// advance records that every frame before off is handled, and compacts the
// log when nothing is left in it.
func (q *queue) advance(off int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if off <= q.cursor {
		return nil
	}
	q.cursor = off
	if q.cursor == q.size && q.size >= q.compactAt {
		if q.beforeCompact != nil {
			if err := q.beforeCompact(); err != nil {
				return fmt.Errorf("compact %s: %w", q.path, err)
			}
		}
		if err := q.f.Truncate(0); err != nil {
			return fmt.Errorf("compact %s: %w", q.path, err)
		}
		if err := q.f.Sync(); err != nil {
			return err
		}
		q.size, q.cursor = 0, 0
		return q.writeCursor(true)
	}
	if !q.durableCursor && time.Since(q.cursorAt) < lazyCursorEvery {
		q.cursorDirty = true
		return nil
	}
	return q.writeCursor(q.durableCursor)
}

// writeCursor writes the cursor file. The lock is held.
func (q *queue) writeCursor(sync bool) error {
	q.cursorAt, q.cursorDirty = time.Now(), false
	return writeFileAtomic(q.cursorPath, []byte(strconv.FormatInt(q.cursor, 10)+"\n"), sync)
}

// pending returns how many bytes of frames are not yet handled.
func (q *queue) pending() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.size - q.cursor
}

// wait returns a channel that receives after the next append.
func (q *queue) wait() <-chan struct{} { return q.notify }

func (q *queue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cursorDirty {
		if err := q.writeCursor(true); err != nil {
			q.f.Close()
			return err
		}
	}
	return q.f.Close()
}
