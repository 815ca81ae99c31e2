package freeport

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestPickIsBelowTheEphemeralRangeDistinctAndFree(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		ports, err := Pick("127.0.0.1", 9)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if top := ephemeralLow(); top-lowest >= 36 && (p < lowest || p >= top) {
				t.Errorf("port %d outside [%d, %d)", p, lowest, top)
			}
			if seen[p] {
				t.Errorf("port %d handed out twice", p)
			}
			seen[p] = true
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				t.Errorf("port %d picked but not free: %v", p, err)
				continue
			}
			l.Close()
		}
	}
}

func TestPickSkipsABusyPortAndSaysWhenTooFewAreFree(t *testing.T) {
	mu.Lock()
	defer mu.Unlock()
	// Find two neighbouring free ports; hold the first.
	var busy net.Listener
	var port int
	for p := lowest + 500; p < ephemeralLow()-1 && busy == nil; p += 2 {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		if next, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1))); err == nil {
			next.Close()
			busy, port = l, p
		} else {
			l.Close()
		}
	}
	if busy == nil {
		t.Skip("no two neighbouring free ports below the ephemeral range")
	}
	defer busy.Close()
	delete(handed, port)
	delete(handed, port+1)
	got, err := pickIn("127.0.0.1", 1, port, port+2)
	if err != nil {
		t.Fatalf("port %d free in range, yet: %v", port+1, err)
	}
	if got[0] != port+1 {
		t.Fatalf("picked %d; want the free %d, not the busy %d", got[0], port+1, port)
	}
	if _, err := pickIn("127.0.0.1", 1, port, port+1); err == nil {
		t.Fatalf("the only port in range is busy, yet one was picked")
	} else if !strings.Contains(err.Error(), "only 0 found") {
		t.Errorf("error does not say how many were found: %v", err)
	}
}
