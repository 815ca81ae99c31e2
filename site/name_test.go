package site

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerNameIsKeptWholeOrNotAtAll: the site's name is written whole
// (no temporary file left, mode 0600) and read back the same; an empty
// file, what a power loss during a plain write leaves, is taken as no
// name and replaced; a stale temporary file is ignored; another member's
// name is refused.
func TestServerNameIsKeptWholeOrNotAtAll(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "."+serverNameFile+".tmp-123"), []byte("site-st-mary-partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, serverNameFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	name, err := serverName(dir, "st-mary")
	if err != nil {
		t.Fatalf("an empty server_name (a write cut by a power loss): %v", err)
	}
	if !strings.HasPrefix(name, "site-st-mary-") || name == "site-st-mary-partial" {
		t.Fatalf("name %q, want a new site-st-mary-<random>", name)
	}
	fi, err := os.Stat(filepath.Join(dir, serverNameFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("server_name mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // server_name and the stale temporary file
		t.Fatalf("data directory holds %v, want server_name and nothing new beside it", entries)
	}
	again, err := serverName(dir, "st-mary")
	if err != nil || again != name {
		t.Fatalf("read back %q (%v), want %q", again, err, name)
	}
	if _, err := serverName(dir, "acme-pharma"); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("another member's name: %v, want ErrInvalidOptions", err)
	}
}
