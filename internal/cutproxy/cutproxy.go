// Package cutproxy is a TCP proxy that cuts links, for tests and the
// chaos harness (a member site's WAN link to the hub, a node's routes and
// gateways): it forwards to a target until Cut resets every connection
// and refuses new ones, and Heal lets them in again. It can also delay
// every chunk by a latency and pace each direction of each connection to
// a rate (a slow WAN link).
package cutproxy

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections from its own loopback port to a target.
type Proxy struct {
	name string
	ln   net.Listener

	mu       sync.Mutex
	target   string
	started  bool
	cut      bool
	latency  time.Duration
	rate     int // bytes a second each way per connection; 0: unlimited
	paced    int64
	conns    map[net.Conn]struct{}
	accepted int
	refused  int
	closed   bool
	wg       sync.WaitGroup
}

// Listen listens on a free loopback port; Start it once the target is
// known (a hub that advertises the proxy's address must know it first).
func Listen(name string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	return &Proxy{name: name, ln: ln, conns: map[net.Conn]struct{}{}}, nil
}

// New is Listen for a test: it fails the test if it cannot listen, and
// closes the proxy when the test ends.
func New(t testing.TB) *Proxy {
	t.Helper()
	p, err := Listen(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Start forwards to target (host:port). Call it once.
func (p *Proxy) Start(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
	if p.started || p.closed {
		return
	}
	p.started = true
	p.wg.Add(1)
	go p.serve()
}

// Retarget forwards new connections to target (a restarted node's new
// port).
func (p *Proxy) Retarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// Name names the proxy ("chaos-1→chaos-2").
func (p *Proxy) Name() string { return p.name }

// Addr is the HOST:PORT the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut resets every open connection and refuses new ones until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	open := p.takeConns()
	p.mu.Unlock()
	for _, c := range open {
		reset(c)
	}
}

// Heal lets connections through again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// IsCut reports whether the proxy is cut.
func (p *Proxy) IsCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// SetLatency delays every chunk read from either side by d before it is
// written to the other (0: none). It applies to data read from now on.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetRate paces every direction of every connection to bytesPerSecond
// (0: unlimited), read by read, so that the sender is held back as a slow
// link would hold it; it applies to data read from now on.
func (p *Proxy) SetRate(bytesPerSecond int) {
	p.mu.Lock()
	p.rate = max(bytesPerSecond, 0)
	p.mu.Unlock()
}

// Paced is how many bytes were held back by a rate since the proxy
// started.
func (p *Proxy) Paced() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paced
}

// Open is the number of connections (each side counted once) open now.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Stats returns how many connections were accepted and refused.
func (p *Proxy) Stats() (accepted, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.refused
}

// Close stops listening and resets every connection. Safe to call more
// than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	open := p.takeConns()
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range open {
		reset(c)
	}
	p.wg.Wait()
}

func (p *Proxy) takeConns() []net.Conn {
	var open []net.Conn
	for c := range p.conns {
		open = append(open, c)
		delete(p.conns, c)
	}
	return open
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut || p.closed {
			p.refused++
			p.mu.Unlock()
			reset(c)
			continue
		}
		p.accepted++
		target := p.target
		p.wg.Add(1)
		p.mu.Unlock()
		go p.forward(c, target)
	}
}

// forward dials target and pipes both ways until either side ends.
func (p *Proxy) forward(client net.Conn, target string) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		reset(client)
		return
	}
	p.mu.Lock()
	if p.cut || p.closed {
		p.mu.Unlock()
		reset(client)
		reset(server)
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	go func() { p.pipe(client, server); done <- struct{}{} }()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
	client.Close()
	server.Close()
	<-done
}

// chunk is data read at one time, due for writing at due.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, holding each chunk for the latency in force
// when it was read. Under a rate, the reader reads at most a tenth of a
// second's worth at a time and waits until the link would have carried
// it before reading on.
func (p *Proxy) pipe(dst, src net.Conn) {
	queue := make(chan chunk, 256)
	go func() {
		defer close(queue)
		buf := make([]byte, 32<<10)
		var free time.Time // when the paced link is free again
		for {
			p.mu.Lock()
			rate := p.rate
			p.mu.Unlock()
			want := len(buf)
			if rate > 0 {
				want = min(want, max(rate/10, 512))
			}
			n, err := src.Read(buf[:want])
			if n > 0 && rate > 0 {
				now := time.Now()
				if free.Before(now) {
					free = now
				}
				free = free.Add(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
				p.mu.Lock()
				p.paced += int64(n)
				p.mu.Unlock()
				time.Sleep(time.Until(free))
			}
			if n > 0 {
				p.mu.Lock()
				d := p.latency
				p.mu.Unlock()
				queue <- chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(d)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		if wait := time.Until(c.due); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.data); err != nil {
			src.Close()
			for range queue {
			}
			return
		}
	}
	// src ended: end dst's write side so the far end sees EOF.
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		dst.Close()
	}
}

// reset closes c with an RST rather than a FIN, as a broken network
// path is seen by the far end.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
