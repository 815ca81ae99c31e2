package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// position is a consumer's ack floor as the agent last read it: every
// message of its filter at or below it was acknowledged, so its sinks hold
// it (or it was quarantined or filtered out). It is what a lost consumer is
// re-created from. It is saved without fsync: after a power loss an older
// value only makes the agent read again what its sinks already hold.
type position struct {
	path string
	last uint64
}

func loadPosition(dir, consumer string) (*position, error) {
	p := &position{path: filepath.Join(dir, "consumers", consumer)}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o700); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read position %s: %w", p.path, err)
	}
	// Unreadable (a power loss during the rename): 0, read again from the
	// consumer's own position.
	p.last, _ = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return p, nil
}

func (p *position) save(seq uint64) error {
	if seq <= p.last {
		return nil
	}
	if err := writeFileAtomic(p.path, []byte(strconv.FormatUint(seq, 10)+"\n"), false); err != nil {
		return err
	}
	p.last = seq
	return nil
}
