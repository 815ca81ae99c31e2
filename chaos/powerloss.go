package chaos

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/tocsin-project/tocsin/chaos/lazyfs"
)

// PowerLoss kills every node at once (a power failure of the whole
// cluster) and takes from each node's store what it wrote since its last
// fsync, as the lost page cache would. It needs the stores on lazy file
// systems; the nodes are left stopped. It says what was lost.
func (c *cluster) PowerLoss(ctx context.Context) (string, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, n := range c.nodes {
		if n.store == nil {
			return "", fmt.Errorf("%s's store is not on a lazy file system", n.name)
		}
		done, err := n.proc.signal(syscall.SIGKILL, true)
		if err != nil {
			return "", err
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = wait(ctx, done, n.name+" after SIGKILL") }()
	}
	wg.Wait()
	var lost []string
	for i, n := range c.nodes {
		if errs[i] != nil {
			return "", errs[i]
		}
		if err := n.store.Unmount(); err != nil {
			return "", err
		}
		if err := n.store.LoseUnsynced(); err != nil {
			return "", fmt.Errorf("%s: lose unsynced writes: %w", n.name, err)
		}
		st := n.store.Stats()
		lost = append(lost, fmt.Sprintf("%s lost %d B in %d files (%d writes, %d fsyncs seen)", n.name, st.LostBytes, st.LostFiles, st.Writes, st.Fsyncs))
		fs, err := lazyfs.Mount(n.backing, n.store.Mountpoint())
		if err != nil {
			return "", err
		}
		n.store = fs
	}
	return fmt.Sprint(lost), nil
}
