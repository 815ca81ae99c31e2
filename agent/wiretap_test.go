package agent

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// wireTap is a TCP proxy between an agent and one node's client port that
// keeps every byte the agent sends. Everything the agent publishes, on any
// subject (receipts, sightings, JetStream API requests, acks, requests to
// the services), passes through it in the NATS client protocol, so nothing
// can be missed, and the bytes are searched as sent.
type wireTap struct {
	t  testing.TB
	ln net.Listener
	to string

	mu    sync.Mutex
	sent  [][]byte     // per connection, what the client sent
	ports map[int]bool // the tap's local ports towards the node
	conns []net.Conn
	wg    sync.WaitGroup
}

// newWireTap listens on loopback and forwards to the node at natsURL.
func newWireTap(t testing.TB, natsURL string) *wireTap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wireTap{t: t, ln: ln, to: strings.TrimPrefix(natsURL, "nats://"), ports: map[int]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is what the agent connects to.
func (p *wireTap) URL() string { return "nats://" + p.ln.Addr().String() }

func (p *wireTap) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		i := len(p.sent)
		p.sent = append(p.sent, nil)
		p.ports[up.LocalAddr().(*net.TCPAddr).Port] = true
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { // client to node, kept
			defer p.wg.Done()
			defer up.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					p.mu.Lock()
					p.sent[i] = append(p.sent[i], buf[:n]...)
					p.mu.Unlock()
					if _, werr := up.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // node to client
			defer p.wg.Done()
			defer c.Close()
			_, _ = io.Copy(c, up)
		}()
	}
}

func (p *wireTap) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// upstreamPorts are the tap's local ports of its connections to the node.
func (p *wireTap) upstreamPorts() map[int]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int]bool{}
	for k := range p.ports {
		out[k] = true
	}
	return out
}

// bytesSent is everything sent so far, every connection's in turn.
func (p *wireTap) bytesSent() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Join(p.sent, nil)
}

// clientOp is one operation of the NATS client protocol the agent sent.
type clientOp struct {
	Op      string // CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG
	Subject string
	Reply   string
	Header  []byte
	Payload []byte
	Line    string // the control line
}

// ops parses what was sent into client protocol operations; a stream that
// does not parse fails the test (the tap would then not know what it
// read). A connection's last, incomplete operation is left out.
func (p *wireTap) ops() []clientOp {
	p.mu.Lock()
	streams := make([][]byte, len(p.sent))
	copy(streams, p.sent)
	p.mu.Unlock()
	var out []clientOp
	for _, s := range streams {
		out = append(out, p.parse(s)...)
	}
	return out
}

func (p *wireTap) parse(s []byte) []clientOp {
	var out []clientOp
	for len(s) > 0 {
		end := bytes.Index(s, []byte("\r\n"))
		if end < 0 {
			return out
		}
		line := string(s[:end])
		rest := s[end+2:]
		f := strings.Fields(line)
		if len(f) == 0 {
			s = rest
			continue
		}
		op := clientOp{Op: strings.ToUpper(f[0]), Line: line}
		switch op.Op {
		case "PUB", "HPUB":
			hdr, total := 0, 0
			var err error
			args := f[1:]
			if op.Op == "HPUB" {
				if len(args) < 3 {
					p.t.Fatalf("wire tap: %q", line)
				}
				if hdr, err = strconv.Atoi(args[len(args)-2]); err != nil {
					p.t.Fatalf("wire tap: %q: %v", line, err)
				}
				args = append(args[:len(args)-2], args[len(args)-1])
			}
			if len(args) < 2 {
				p.t.Fatalf("wire tap: %q", line)
			}
			if total, err = strconv.Atoi(args[len(args)-1]); err != nil {
				p.t.Fatalf("wire tap: %q: %v", line, err)
			}
			op.Subject = args[0]
			if len(args) == 3 {
				op.Reply = args[1]
			}
			if len(rest) < total+2 {
				return out
			}
			op.Header, op.Payload = rest[:hdr], rest[hdr:total]
			rest = rest[total+2:]
		case "CONNECT", "SUB", "UNSUB", "PING", "PONG":
			if len(f) > 1 {
				op.Subject = f[1]
			}
		default:
			p.t.Fatalf("wire tap: an operation a NATS client does not send: %q", line)
		}
		out = append(out, op)
		s = rest
	}
	return out
}

// leaks reports where any of values (case-insensitively) appears in what
// was sent: the whole stream is searched, then each operation, to say
// which subject carried it.
func (p *wireTap) leaks(values []string) []string {
	all := bytes.ToLower(p.bytesSent())
	var out []string
	for _, v := range values {
		lv := []byte(strings.ToLower(v))
		if !bytes.Contains(all, lv) {
			continue
		}
		where := "between operations"
		for _, op := range p.ops() {
			if bytes.Contains(bytes.ToLower([]byte(op.Line)), lv) || bytes.Contains(bytes.ToLower(op.Header), lv) || bytes.Contains(bytes.ToLower(op.Payload), lv) {
				where = fmt.Sprintf("%s %s", op.Op, op.Subject)
				break
			}
		}
		out = append(out, fmt.Sprintf("%q in %s", v, where))
	}
	return out
}
