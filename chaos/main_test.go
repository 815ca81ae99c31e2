package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// tocsinBin is the tocsin binary the tests run, built once by TestMain.
var tocsinBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tocsin-chaos-bin-")
	if err != nil {
		panic(err)
	}
	tocsinBin = filepath.Join(dir, "tocsin")
	if out, err := exec.Command("go", "build", "-o", tocsinBin, "../cmd/tocsin").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tocsin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	stopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testContext is a context that ends with the test or after d.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startCluster starts three node processes through proxies; they are
// killed when the test ends.
func startCluster(t *testing.T, ctx context.Context, sync string) *cluster {
	t.Helper()
	c, err := newCluster(ctx, tocsinBin, t.TempDir(), sync, false, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); dumpLogs(t, c) })
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start the cluster: %v", err)
	}
	return c
}

// dumpLogs logs the end of each node's log when the test failed.
func dumpLogs(t *testing.T, c *cluster) {
	if !t.Failed() {
		return
	}
	for _, n := range c.nodes {
		data, _ := os.ReadFile(n.proc.log)
		t.Logf("%s log:\n%s", n.name, tail(data, 4000))
	}
}

// tail is the last n bytes of data.
func tail(data []byte, n int) string {
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}
