package demo

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/agent"
)

// hooks is the members' webhook receiver (their SOAR, say): one URL per
// member, every body's signature checked, each message id recorded.
type hooks struct {
	secret []byte
	ln     net.Listener
	srv    *http.Server
	seen   *ledger
}

// startHooks listens on a free loopback port.
func startHooks() (*hooks, error) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: webhook receiver: %w", err)
	}
	h := &hooks{secret: []byte(hex.EncodeToString(raw)), ln: ln, seen: newLedger()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/{member}", h.receive)
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

// url is member's webhook URL.
func (h *hooks) url(member string) string {
	return "http://" + h.ln.Addr().String() + "/hooks/" + member
}

func (h *hooks) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sig := r.Header.Get(agent.HeaderSignature)
	if !hmac.Equal([]byte(sig), []byte(agent.Sign(h.secret, body))) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := strings.TrimSpace(r.Header.Get(agent.HeaderMessageID))
	if id == "" {
		http.Error(w, "no message id", http.StatusBadRequest)
		return
	}
	h.seen.add(r.PathValue("member"), id, nil)
	w.WriteHeader(http.StatusNoContent)
}

func (h *hooks) close() { _ = h.srv.Close() }
