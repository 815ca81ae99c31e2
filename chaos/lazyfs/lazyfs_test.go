package lazyfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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

// losePower unmounts fs and undoes what it was not told to sync.
func losePower(t *testing.T, fs *FS) {
	t.Helper()
	if err := fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if err := fs.LoseUnsynced(); err != nil {
		t.Fatal(err)
	}
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
	losePower(t, fs)
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

// writeDurably writes data to path the way a key must be written to
// survive a power loss: a temporary file, fsync, rename, fsync of the
// directory.
func writeDurably(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// A file written to a temporary name, fsynced, renamed into place and its
// directory fsynced survives a power loss, whether it is new or replaces
// a synced or an unsynced file: the rename carries the synced data with
// it. A file written in place without fsync comes back empty.
func TestLoseUnsyncedKeepsSyncedFileRenamedIntoPlace(t *testing.T) {
	fs, backing := mount(t)
	mnt := fs.Mountpoint()
	writeDurably(t, filepath.Join(mnt, "new.nk"), "SUAnew")
	writeDurably(t, filepath.Join(mnt, "replaced.nk"), "SUAold")
	writeDurably(t, filepath.Join(mnt, "replaced.nk"), "SUAreplacement")
	if err := os.WriteFile(filepath.Join(mnt, "unsynced.nk"), []byte("SUAunsynced"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeDurably(t, filepath.Join(mnt, "over-unsynced.nk"), "SUAfirst")
	if err := os.WriteFile(filepath.Join(mnt, "over-unsynced.nk"), []byte("SUAtorn, never synced"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeDurably(t, filepath.Join(mnt, "over-unsynced.nk"), "SUAlast")
	if err := os.WriteFile(filepath.Join(mnt, "in-place.nk"), []byte("SUAin-place"), 0o600); err != nil {
		t.Fatal(err)
	}
	losePower(t, fs)
	for name, want := range map[string]string{"new.nk": "SUAnew", "replaced.nk": "SUAreplacement", "over-unsynced.nk": "SUAlast", "in-place.nk": "", "unsynced.nk": ""} {
		got, err := os.ReadFile(filepath.Join(backing, name))
		if err != nil || string(got) != want {
			t.Errorf("after the loss %s holds %q (%v), want %q", name, got, err, want)
		}
	}
	entries, err := os.ReadDir(backing)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Errorf("after the loss the directory holds %d entries, want the 5 files and no temporary one", len(entries))
	}
}

// rewrite replaces the content of path in place as NATS rewrites its
// state files: opened write-only and truncated, written, and fsynced when
// synced is set.
func rewrite(t *testing.T, path, data string, synced bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatalf("rewrite %s: %v", filepath.Base(path), err)
	}
	if synced {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

// A file opened write-only and truncated can be written again after it
// was synced, and after a power loss and a new mount (every file then
// durable as found); a power loss takes it back to its last fsync.
func TestWriteOnlyRewriteOfSyncedFile(t *testing.T) {
	fs, backing := mount(t)
	state := filepath.Join(fs.Mountpoint(), "o.dat")
	rewrite(t, state, "first, synced", true)
	rewrite(t, state, "second, synced", true)
	rewrite(t, state, "3rd", false)
	losePower(t, fs)
	if got, _ := os.ReadFile(filepath.Join(backing, "o.dat")); string(got) != "second, synced" {
		t.Fatalf("after the loss o.dat holds %q, want the last synced content", got)
	}
	again, err := Mount(backing, fs.Mountpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Unmount() })
	rewrite(t, state, "after the loss", false)
	losePower(t, again)
	if got, _ := os.ReadFile(filepath.Join(backing, "o.dat")); string(got) != "second, synced" {
		t.Fatalf("after the second loss o.dat holds %q, want the content found at the mount", got)
	}
}

// The process that serves a mount can open files on it while the garbage
// collector stops the world: the first open of a file of a mount used to
// wait, inside the Go runtime, for the answer to the kernel's poll
// question, which a stopped serving goroutine could not give (the test
// process hung). Each round is a new mount, whose first open asks.
func TestServingProcessOpensFilesDuringGC(t *testing.T) {
	stop := make(chan struct{})
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	defer func() { close(stop); <-gcDone }()
	for i := range 40 {
		fs, _ := mount(t)
		if err := os.WriteFile(filepath.Join(fs.Mountpoint(), "f"), []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := fs.Unmount(); err != nil {
			t.Fatal(err)
		}
	}
}

// A process started while a file system is mounted inherits no
// descriptor of /dev/fuse: one would keep the connection alive after the
// serving process died, and hang whatever then touched the mount.
func TestStartedProcessInheritsNoFuseDescriptor(t *testing.T) {
	mount(t)
	out, err := exec.Command("sh", "-c", "ls -l /proc/$$/fd").CombinedOutput()
	if err != nil {
		t.Fatalf("list a child's descriptors: %v: %s", err, out)
	}
	if strings.Contains(string(out), "/dev/fuse") {
		t.Fatalf("a child process holds /dev/fuse:\n%s", out)
	}
}
