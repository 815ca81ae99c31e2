package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/server"
)

// cluster is the demo's own dev cluster, run in this process, and a
// service connection that reads its streams and buckets for the checks.
type cluster struct {
	srv     *server.Server
	stop    context.CancelFunc
	done    chan struct{} // closed when Main returns
	err     error         // Main's error, set before done closes
	servers string        // every node's client URL, comma-separated

	nc *nats.Conn
	js jetstream.JetStream
}

// startCluster starts a dev cluster in data and waits until it is ready.
func startCluster(ctx context.Context, data string, port int, httpAddr string, log *zap.Logger) (*cluster, error) {
	ready := make(chan struct{})
	srv, err := server.New(ctx, server.Options{
		Dev:      &server.DevOptions{DataDir: data, Port: port},
		HTTPAddr: httpAddr,
		OnReady:  func(*server.Server) { close(ready) },
	}, log)
	if err != nil {
		return nil, fmt.Errorf("demo: start the cluster: %w", err)
	}
	mctx, stop := context.WithCancel(context.Background())
	c := &cluster{srv: srv, stop: stop, done: make(chan struct{}), servers: strings.Join(srv.ClientURLs(), ",")}
	go func() {
		c.err = srv.Main(mctx)
		close(c.done)
	}()
	select {
	case <-ready:
	case <-c.done:
		c.close()
		return nil, fmt.Errorf("demo: the cluster did not start: %w", c.err)
	case <-ctx.Done():
		c.close()
		return nil, ctx.Err()
	}
	if err := c.connect(data); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// connect opens the checks' service connection with credentials issued
// from the cluster's own keys.
func (c *cluster) connect(data string) error {
	a, err := auth.Load(filepath.Join(data, "auth"))
	if err != nil {
		return fmt.Errorf("demo: the cluster's keys: %w", err)
	}
	creds, err := a.IssueService("tocsin-demo")
	if err != nil {
		return err
	}
	opt, err := auth.CredsOption(creds)
	if err != nil {
		return err
	}
	if c.nc, err = nats.Connect(c.servers, opt, nats.Name("tocsin demo checks"), nats.MaxReconnects(-1)); err != nil {
		return fmt.Errorf("demo: connect to the cluster: %w", err)
	}
	c.js, err = jetstream.New(c.nc)
	return err
}

// stopped returns Main's error once the cluster has stopped by itself,
// nil while it runs.
func (c *cluster) stopped() error {
	select {
	case <-c.done:
		if c.err == nil {
			return errors.New("the cluster stopped")
		}
		return fmt.Errorf("the cluster stopped: %w", c.err)
	default:
		return nil
	}
}

// consoleURL is the console's address.
func (c *cluster) consoleURL() string { return "http://" + c.srv.HTTPAddr() + "/console/" }

// nodeName is the name of node i.
func (c *cluster) nodeName(i int) string { return c.srv.Cluster().Node(i).Name() }

// killNode takes node i down, the way an operator loses a machine.
func (c *cluster) killNode(i int) { c.srv.Cluster().StopNode(i) }

// serving waits until every stream answers with a leader again.
func (c *cluster) serving(ctx context.Context) error {
	want := len(broker.StreamNames())
	for {
		// Each look gets its own few seconds: an answer lost while the
		// cluster re-forms must not use up the whole wait.
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		st, err := c.srv.Status(actx)
		cancel()
		if err == nil && st.Serving() && len(st.Streams) == want {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%s", strings.Join(st.Problems, "; "))
			}
			return fmt.Errorf("the cluster is not serving again: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// close stops the cluster and waits for it.
func (c *cluster) close() {
	if c.nc != nil {
		c.nc.Close()
	}
	c.stop()
	<-c.done
	c.srv.Exit()
}
