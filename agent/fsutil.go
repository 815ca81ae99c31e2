package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrLocked is wrapped when another agent already uses a state directory.
var ErrLocked = errors.New("state directory in use")

// syncDir fsyncs a directory, so that a rename or a new file in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory and a rename. With durable set the file and the directory
// are fsynced, so the new content survives a power loss; without it a crash
// leaves the old content, the new one or, after a power loss, possibly an
// empty file.
func writeFileAtomic(path string, data []byte, durable bool) error {
	if err := replaceFile(path, data, 0o600, durable); err != nil {
		return err
	}
	if durable {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

// replaceFile writes data to a temporary dotfile beside path (fsynced when
// syncFile is set), gives it mode and renames it over path. The directory
// is not synced: see writeFileAtomic.
func replaceFile(path string, data []byte, mode os.FileMode, syncFile bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && syncFile {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// removeTemps deletes the temporary files writeFileAtomic leaves behind
// when the process is killed between create and rename.
func removeTemps(dir string) error {
	tmps, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if err != nil {
		return err
	}
	for _, t := range tmps {
		if err := os.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// lockDir takes an exclusive lock on dir (a "lock" file in it), so that two
// agents never share one state directory. The lock goes with the process.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s is locked by another tocsin agent (%v); give each agent its own --state", ErrLocked, dir, err)
	}
	return f, nil
}
