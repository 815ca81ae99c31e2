// Package freeport picks free TCP ports for nodes that must know each
// other's addresses before any of them listens (cluster routes).
//
// Asking the kernel for port 0 and closing the listener hands out a port
// from the ephemeral range, the same range the kernel takes source ports
// of outgoing connections from: between the pick and the real bind, any
// connection on the machine (or a route dialing that very address, which
// can connect to itself) may take it, and the node then fails with
// "address already in use". Ports are picked below the ephemeral range,
// where the kernel never assigns source ports, and each is checked free by
// binding it. A process never hands out the same port twice.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the lowest port handed out: well above the registered
// services most machines run.
const lowest = 10000

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// Pick returns n distinct ports on host that were free when picked and are
// outside the kernel's ephemeral range.
func Pick(host string, n int) ([]int, error) {
	mu.Lock()
	defer mu.Unlock()
	top := ephemeralLow()
	if top-lowest < 4*n {
		return kernelPicked(host, n)
	}
	return pickIn(host, n, lowest, top)
}

// pickIn picks n ports in [lo, hi); the caller holds mu.
func pickIn(host string, n, lo, hi int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 50*n+1000 {
			return nil, fmt.Errorf("pick %d free ports on %s between %d and %d: only %d found; free some ports or stop other clusters", n, host, lo, hi, len(ports))
		}
		p := lo + rand.IntN(hi-lo)
		if handed[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		handed[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

// kernelPicked is the fallback where no range lies below the ephemeral one.
func kernelPicked(host string, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("pick a free port on %s: %w", host, err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range: Linux
// says it in /proc; elsewhere the IANA range's 49152 and Linux's default
// 32768 are both above the ports picked from here when 32768 is assumed.
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(data))
	if len(f) < 1 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low < 1 {
		return 32768
	}
	return low
}
