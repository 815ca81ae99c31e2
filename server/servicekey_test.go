package server

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/tocsin-project/tocsin/chaos/lazyfs"
)

// A node's service key survives a power failure right after it was
// created: on a lazy file system, which loses every write not fsynced, the
// seed reads back whole and decodes, and a second start keeps the key.
func TestServiceKeySurvivesPowerLoss(t *testing.T) {
	dir := t.TempDir()
	backing := filepath.Join(dir, "backing")
	fs, err := lazyfs.Mount(backing, filepath.Join(dir, "store"))
	if errors.Is(err, lazyfs.ErrUnavailable) {
		t.Skipf("no lazy file system here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Unmount() })
	seed, err := serviceSeed(filepath.Join(fs.Mountpoint(), "node-1", "service.nk"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if err := fs.LoseUnsynced(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(backing, "node-1", "service.nk")
	again, err := serviceSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, seed) {
		t.Fatalf("after the power loss the service key reads %q, want the seed written before it", again)
	}
	if _, err := nkeys.FromSeed(again); err != nil {
		t.Fatalf("the service key does not decode after the power loss: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("the store holds %d entries, want only service.nk (no temporary file left)", len(entries))
	}
}
