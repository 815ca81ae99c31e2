package lazyfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// mount mounts a lazy file system for the test, or skips it where FUSE is
// unavailable (not root, no /dev/fuse).
func mount(t *testing.T) (*FS, string) {
	t.Helper()
	dir := t.TempDir()
	backing := filepath.Join(dir, "backing")
	fs, err := Mount(backing, filepath.Join(dir, "mnt"))
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("lazyfs: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Unmount() })
	return fs, backing
}

// What was fsynced survives a power loss; what was written, overwritten or
// cut since is undone; a file never synced comes back empty; renames and
// directories stay.
func TestLoseUnsyncedKeepsOnlyWhatWasSynced(t *testing.T) {
	fs, backing := mount(t)
	mnt := fs.Mountpoint()
	if err := os.MkdirAll(filepath.Join(mnt, "stream", "msgs"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := os.OpenFile(filepath.Join(mnt, "stream", "msgs", "1.blk"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite := func(f *os.File, s string, off int64) {
		t.Helper()
		if _, err := f.WriteAt([]byte(s), off); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(a, "synced-", 0)
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	mustWrite(a, "lost", 7)
	mustWrite(a, "S", 0)
	if err := a.Truncate(9); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := os.WriteFile(filepath.Join(mnt, "stream", "tmp"), []byte("never synced"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(mnt, "stream", "tmp"), filepath.Join(mnt, "stream", "index.db")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "stream", "msgs", "1.blk"))
	if err != nil || string(got) != "Synced-lo" {
		t.Fatalf("before the loss the mount reads %q (%v), want what was written", got, err)
	}
	if st := fs.Stats(); st.Writes < 4 || st.Fsyncs != 1 {
		t.Fatalf("stats %+v: want the writes and the one fsync seen", st)
	}
	if err := fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if err := fs.LoseUnsynced(); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(filepath.Join(backing, "stream", "msgs", "1.blk"))
	if string(got) != "synced-" {
		t.Fatalf("after the loss the block holds %q, want %q", got, "synced-")
	}
	info, err := os.Stat(filepath.Join(backing, "stream", "index.db"))
	if err != nil || info.Size() != 0 {
		t.Fatalf("the renamed, never synced file: %v, size %d; want it there and empty", err, info.Size())
	}
	if st := fs.Stats(); st.LostFiles != 2 {
		t.Fatalf("lost files %d, want 2", st.LostFiles)
	}
}
