package site

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tocsin-project/tocsin/internal/syncfile"
)

// ServerNamePrefix starts every site's server name: a client sees it in
// the server's INFO (nats.Conn.ConnectedServerName) and knows it is at a
// site, not the hub.
const ServerNamePrefix = "site-"

// serverNameFile is the file in the data directory that keeps the site's
// server name.
const serverNameFile = "server_name"

// serverName reads the site's server name from dir, or makes one
// ("site-<member>-<random>") and keeps it: the same site has the same name
// across restarts, and no two sites share one. The name is written to a
// temporary file, fsynced, renamed into place and the directory fsynced,
// so that a power loss leaves the old state or the whole name, never an
// empty file; an empty file (left by an older site that lost power while
// writing it) is taken as no name.
func serverName(dir, member string) (string, error) {
	path := filepath.Join(dir, serverNameFile)
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
		name := strings.TrimSpace(string(b))
		if !strings.HasPrefix(name, ServerNamePrefix+member+"-") {
			return "", fmt.Errorf("%w: %s names %q, a site of another member; give this member's site its own data directory", ErrInvalidOptions, path, name)
		}
		return name, nil
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	name := ServerNamePrefix + member + "-" + hex.EncodeToString(r[:])
	if err := syncfile.WriteFile(path, []byte(name+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("%w: data: %v", ErrInvalidOptions, err)
	}
	return name, nil
}
