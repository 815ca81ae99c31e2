package cli

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/members"
)

// tocsin init writes private files only, gives each node what it needs and
// no operator or account seed, admits the first admin in the account JWTs,
// and never writes into a directory that is not empty.
func TestInitWritesKeysAndNodeDirs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errOut bytes.Buffer
	if code := Main([]string{"init", "--dir", dir, "--nodes", "n1,n2", "--tls-hosts", "127.0.0.1"}, &out, &errOut); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"operator.nk", "OFFLINE", "nodes/NODE", "service.creds", "tocsin members add"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("init output does not mention %q:\n%s", want, out.String())
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if want := fs.FileMode(0o600); d.IsDir() && info.Mode().Perm() != 0o700 || !d.IsDir() && info.Mode().Perm() != want {
			t.Errorf("%s: mode %v", path, info.Mode().Perm())
		}
		if strings.Contains(path, "/nodes/") && strings.HasSuffix(path, ".nk") {
			t.Errorf("%s: a seed in a node's directory", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Load(dir); err != nil {
		t.Fatalf("the keys do not load: %v", err)
	}
	for _, n := range []string{"n1", "n2"} {
		sa, err := auth.LoadServerAuth(filepath.Join(dir, "nodes", n))
		if err != nil {
			t.Fatalf("node %s: %v", n, err)
		}
		if len(sa.AccountJWTs) != 3 {
			t.Fatalf("node %s preloads %d account JWTs, want SYS, TOCSIN and the first admin's", n, len(sa.AccountJWTs))
		}
	}
	admins, err := members.LoadSeed(filepath.Join(dir, adminsFile), members.DefaultVocabulary())
	if err != nil || len(admins) != 1 || admins[0].GetId() != "admin" || len(admins[0].GetKeys()) != 1 {
		t.Fatalf("admins.yaml: %v %v", admins, err)
	}
	if code := Main([]string{"init", "--dir", dir}, &out, &errOut); code != ExitUsage || !strings.Contains(errOut.String(), "not empty") {
		t.Fatalf("init over existing keys: exit %d: %s", code, errOut.String())
	}
}
