package chaos

import "github.com/tocsin-project/tocsin/internal/cutproxy"

// Proxy forwards TCP connections from its own loopback port to one target
// address; it cuts, delays and paces them (internal/cutproxy).
type Proxy = cutproxy.Proxy

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(name, target string) (*Proxy, error) {
	p, err := cutproxy.Listen(name)
	if err != nil {
		return nil, err
	}
	p.Start(target)
	return p, nil
}
