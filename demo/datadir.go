package demo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tocsin-project/tocsin/examples"
)

// marker names the file that says a directory is a demo's own, so a later
// run may wipe it.
const marker = ".tocsin-demo"

// freshDir makes dir an empty demo directory: created when missing, wiped
// when a previous demo left it, refused when it holds anything else.
func freshDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo: data directory %s: %w", dir, err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("demo: %s holds files that are not a previous demo's; give --data a new or empty directory", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("demo: wipe the previous demo in %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("demo: data directory: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte("tocsin demo data: wiped by the next tocsin demo on this directory\n"), 0o600)
}

// writeFiles copies the story's files (examples.FS) into dir.
func writeFiles(dir string) error { return os.CopyFS(dir, examples.FS) }
