package cutproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if got != line+"\n" {
		t.Fatalf("echo %q, got %q", line, got)
	}
	return time.Since(start), nil
}

// A proxy forwards, delays by its latency both ways, resets open
// connections when cut, refuses new ones while cut, and heals.
func TestProxyForwardsDelaysCutsAndHeals(t *testing.T) {
	p := New(t)
	p.Start(echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := roundTrip(t, c, r, "hello"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	if p.Open() != 1 {
		t.Fatalf("open connections: %d, want 1", p.Open())
	}
	p.SetLatency(100 * time.Millisecond)
	d, err := roundTrip(t, c, r, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if d < 200*time.Millisecond {
		t.Fatalf("round trip with 100ms each way took %s, want at least 200ms", d)
	}
	p.SetLatency(0)

	p.Cut()
	if _, err := roundTrip(t, c, r, "cut"); err == nil {
		t.Fatal("a cut proxy still carried an open connection")
	}
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := roundTrip(t, c2, bufio.NewReader(c2), "refused"); err == nil {
			t.Fatal("a cut proxy accepted a new connection")
		}
		c2.Close()
	}
	if _, refused := p.Stats(); refused == 0 {
		t.Fatal("a refused connection was not counted")
	}

	p.Heal()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if _, err := roundTrip(t, c3, bufio.NewReader(c3), "healed"); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}

// A proxy with a rate carries data no faster than the rate (a slow WAN
// link), counts what it paced, and runs at full speed again without it.
func TestProxyPacesToItsRate(t *testing.T) {
	p := New(t)
	p.Start(echoServer(t))
	echo := func(n int) time.Duration {
		t.Helper()
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		go func() { _, _ = c.Write(make([]byte, n)) }()
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
			t.Fatalf("echo of %d bytes: %v", n, err)
		}
		return time.Since(start)
	}
	const rate, n = 10_000, 20_000
	p.SetRate(rate)
	if d := echo(n); d < 1800*time.Millisecond {
		t.Fatalf("%d bytes at %d B/s each way echoed in %s, want about 2s or more", n, rate, d)
	}
	if got := p.Paced(); got < 2*n {
		t.Fatalf("paced %d bytes, want %d (both ways)", got, 2*n)
	}
	p.SetRate(0)
	if d := echo(n); d > time.Second {
		t.Fatalf("without a rate %d bytes took %s", n, d)
	}
}

// A retargeted proxy forwards new connections to its new target (a
// restarted node's new port).
func TestProxyRetargets(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	p := New(t)
	p.Start(deadAddr)
	p.Retarget(echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := roundTrip(t, c, bufio.NewReader(c), "moved"); err != nil {
		t.Fatalf("after retarget: %v", err)
	}
}
