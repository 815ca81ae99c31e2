package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"

	"github.com/tocsin-project/tocsin/auth"
)

var seedFiles = map[string]string{
	auth.OperatorSeedFile: "SO", auth.OperatorSignerFile: "SO",
	auth.SystemSeedFile: "SA", auth.SystemSignerFile: "SA",
	auth.AccountSeedFile: "SA", auth.ServiceSignerFile: "SA",
}

var jwtFiles = []string{auth.OperatorJWTFile, auth.SystemJWTFile, auth.AccountJWTFile}

func TestInitWritesPrivateFilesAndLoadReadsThemBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "authority")
	a, err := auth.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir: %v %v, want mode 0700", st.Mode(), err)
	}
	for name, prefix := range seedFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !strings.HasPrefix(string(data), prefix) {
			t.Fatalf("%s: %v, want an nkey seed starting %s", name, err, prefix)
		}
	}
	for _, name := range append(jwtFiles, keys(seedFiles)...) {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, want mode 0600", name, err)
		}
	}
	oc, err := jwt.DecodeOperatorClaims(a.OperatorJWT())
	if err != nil || !oc.StrictSigningKeyUsage || oc.SystemAccount != a.SystemAccount() || len(oc.SigningKeys) != 1 {
		t.Fatalf("operator jwt %+v %v: want strict signing keys, the system account and one signing key", oc, err)
	}
	if _, err := auth.Init(dir); !errors.Is(err, auth.ErrKeyMaterial) {
		t.Fatalf("second Init: %v, want ErrKeyMaterial", err)
	}
	// The operator key kept offline: everything still loads and signs.
	if err := os.Rename(filepath.Join(dir, auth.OperatorSeedFile), filepath.Join(t.TempDir(), "offline.nk")); err != nil {
		t.Fatal(err)
	}
	b, err := auth.LoadOrInit(dir)
	if err != nil {
		t.Fatalf("load without operator.nk: %v", err)
	}
	if b.Account() != a.Account() || b.SystemAccount() != a.SystemAccount() {
		t.Fatal("loaded a different authority")
	}
	ja, err := a.AccountJWTs(testMembers())
	if err != nil {
		t.Fatal(err)
	}
	jb, err := b.AccountJWTs(testMembers())
	if err != nil {
		t.Fatal(err)
	}
	_, oa := decodeAccounts(t, ja)
	_, ob := decodeAccounts(t, jb)
	if scopeOf(t, oa["st-mary"], "st-mary").Key != scopeOf(t, ob["st-mary"], "st-mary").Key || oa["st-mary"].Subject != ob["st-mary"].Subject {
		t.Fatal("a member's scoped key changed across Load: its credentials would stop working")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLoadRefusesMissingOrMismatchedFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := auth.Init(dir); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := auth.Init(other); err != nil {
		t.Fatal(err)
	}
	copyFile := func(t *testing.T, name, from, to string) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range append(jwtFiles[1:], auth.OperatorSignerFile, auth.SystemSignerFile, auth.AccountSeedFile) {
		t.Run("foreign "+name, func(t *testing.T) {
			mixed := t.TempDir()
			for _, f := range append(jwtFiles, keys(seedFiles)...) {
				copyFile(t, f, dir, mixed)
			}
			copyFile(t, name, other, mixed)
			if _, err := auth.Load(mixed); !errors.Is(err, auth.ErrKeyMaterial) {
				t.Fatalf("Load with %s of another authority: %v, want ErrKeyMaterial", name, err)
			}
		})
	}
	if _, err := auth.Load(t.TempDir()); !errors.Is(err, auth.ErrKeyMaterial) {
		t.Fatalf("Load of an empty dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(other, auth.AccountSeedFile), []byte(strings.Repeat("x", 58)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Load(other); !errors.Is(err, auth.ErrKeyMaterial) {
		t.Fatalf("Load with a garbled seed: %v", err)
	}
}

func TestLoadServerAuthNeedsNoSeed(t *testing.T) {
	dir := t.TempDir()
	a, err := auth.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name := range seedFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := auth.LoadServerAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sa.OperatorJWT != a.OperatorJWT() || len(sa.AccountJWTs) != 2 {
		t.Fatalf("server auth %+v", sa)
	}
	if err := sa.Validate(); err != nil {
		t.Fatal(err)
	}
}
