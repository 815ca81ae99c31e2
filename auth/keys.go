package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// File names in an authority directory (see the package doc).
const (
	// OperatorSeedFile holds the operator identity seed (keep it offline).
	OperatorSeedFile = "operator.nk"
	// OperatorJWTFile holds the operator JWT every node trusts.
	OperatorJWTFile = "operator.jwt"
	// OperatorSignerFile holds the operator signing key seed.
	OperatorSignerFile = "operator-signing.nk"
	// SystemSeedFile holds the system account identity seed.
	SystemSeedFile = "SYS.nk"
	// SystemJWTFile holds the system account JWT.
	SystemJWTFile = "SYS.jwt"
	// SystemSignerFile holds the seed that signs system-account users.
	SystemSignerFile = "SYS-signing.nk"
	// AccountSeedFile holds the TOCSIN account identity seed.
	AccountSeedFile = "TOCSIN.nk"
	// AccountJWTFile holds the TOCSIN account JWT as Init made it.
	AccountJWTFile = "TOCSIN.jwt"
	// ServiceSignerFile holds the seed that signs service users.
	ServiceSignerFile = "TOCSIN-service.nk"

	operatorName            = "tocsin"
	systemAccountName       = "SYS"
	tocsinAccountName       = "TOCSIN"
	memberKeyDerivation     = "tocsin member scoped signing key v1\x00"
	memberAccountDerivation = "tocsin member account v1\x00"
)

// Authority holds the key material that signs Tocsin's operator, accounts
// and users. Create it once with Init; Load it where account JWTs and
// credentials are issued (the admin tool, tocsin dev). Nodes never need it.
type Authority struct {
	operator    nkeys.KeyPair // nil when operator.nk is kept offline
	operatorJWT string
	opSigner    nkeys.KeyPair
	sys         nkeys.KeyPair
	sysJWT      string
	sysSigner   nkeys.KeyPair
	account     nkeys.KeyPair
	accountJWT  string
	service     nkeys.KeyPair
}

// Init creates a new operator, system account and TOCSIN account and writes
// them to dir (created 0700 if missing; every file 0600). It refuses to
// overwrite an existing authority: key material is never replaced silently.
func Init(dir string) (*Authority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: create %q: %v; choose a directory this user can write", ErrKeyMaterial, dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, OperatorJWTFile)); err == nil {
		return nil, fmt.Errorf("%w: %q already holds an authority; use Load, or remove it to start over", ErrKeyMaterial, dir)
	}
	a, err := newAuthority()
	if err != nil {
		return nil, err
	}
	if err := a.write(dir); err != nil {
		return nil, err
	}
	return a, nil
}

// LoadOrInit loads the authority in dir, or creates one if dir holds none
// (for tocsin dev and tests).
func LoadOrInit(dir string) (*Authority, error) {
	if _, err := os.Stat(filepath.Join(dir, OperatorJWTFile)); errors.Is(err, fs.ErrNotExist) {
		return Init(dir)
	}
	return Load(dir)
}

func newAuthority() (*Authority, error) {
	var a Authority
	var err error
	kps := []*nkeys.KeyPair{&a.operator, &a.opSigner, &a.sys, &a.sysSigner, &a.account, &a.service}
	kinds := []func() (nkeys.KeyPair, error){nkeys.CreateOperator, nkeys.CreateOperator, nkeys.CreateAccount, nkeys.CreateAccount, nkeys.CreateAccount, nkeys.CreateAccount}
	for i, kp := range kps {
		if *kp, err = kinds[i](); err != nil {
			return nil, fmt.Errorf("%w: generate key: %v", ErrKeyMaterial, err)
		}
	}
	opPub, sysPub := mustPublic(a.operator), mustPublic(a.sys)
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = operatorName
	oc.SystemAccount = sysPub
	oc.StrictSigningKeyUsage = true
	oc.SigningKeys.Add(mustPublic(a.opSigner))
	if a.operatorJWT, err = oc.Encode(a.operator); err != nil {
		return nil, fmt.Errorf("%w: sign operator jwt: %v", ErrKeyMaterial, err)
	}
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = systemAccountName
	sc.SigningKeys.Add(mustPublic(a.sysSigner))
	if a.sysJWT, err = sc.Encode(a.opSigner); err != nil {
		return nil, fmt.Errorf("%w: sign system account jwt: %v", ErrKeyMaterial, err)
	}
	initial, err := a.AccountJWTs(nil)
	if err != nil {
		return nil, err
	}
	a.accountJWT = initial[0]
	return &a, nil
}

func (a *Authority) write(dir string) error {
	seeds := map[string]nkeys.KeyPair{
		OperatorSeedFile: a.operator, OperatorSignerFile: a.opSigner,
		SystemSeedFile: a.sys, SystemSignerFile: a.sysSigner,
		AccountSeedFile: a.account, ServiceSignerFile: a.service,
	}
	for name, kp := range seeds {
		seed, err := kp.Seed()
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrKeyMaterial, name, err)
		}
		if err := writeNew(filepath.Join(dir, name), append(seed, '\n')); err != nil {
			return err
		}
	}
	jwts := map[string]string{OperatorJWTFile: a.operatorJWT, SystemJWTFile: a.sysJWT, AccountJWTFile: a.accountJWT}
	for name, j := range jwts {
		if err := writeNew(filepath.Join(dir, name), []byte(j+"\n")); err != nil {
			return err
		}
	}
	return nil
}

// writeNew creates path with mode 0600, failing if it exists.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: create %q: %v; remove stale files or choose an empty directory", ErrKeyMaterial, path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("%w: write %q: %v", ErrKeyMaterial, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: write %q: %v", ErrKeyMaterial, path, err)
	}
	return nil
}

// Load reads the authority Init wrote to dir. operator.nk may be absent
// (kept offline); everything else is required and must belong together.
func Load(dir string) (*Authority, error) {
	var a Authority
	var err error
	seeds := []struct {
		file   string
		prefix nkeys.PrefixByte
		kp     *nkeys.KeyPair
	}{
		{OperatorSignerFile, nkeys.PrefixByteOperator, &a.opSigner},
		{SystemSeedFile, nkeys.PrefixByteAccount, &a.sys},
		{SystemSignerFile, nkeys.PrefixByteAccount, &a.sysSigner},
		{AccountSeedFile, nkeys.PrefixByteAccount, &a.account},
		{ServiceSignerFile, nkeys.PrefixByteAccount, &a.service},
	}
	for _, s := range seeds {
		if *s.kp, err = readSeed(filepath.Join(dir, s.file), s.prefix); err != nil {
			return nil, err
		}
	}
	if a.operator, err = readSeed(filepath.Join(dir, OperatorSeedFile), nkeys.PrefixByteOperator); errors.Is(err, fs.ErrNotExist) {
		a.operator = nil
	} else if err != nil {
		return nil, err
	}
	for file, dst := range map[string]*string{OperatorJWTFile: &a.operatorJWT, SystemJWTFile: &a.sysJWT, AccountJWTFile: &a.accountJWT} {
		if *dst, err = readJWT(filepath.Join(dir, file)); err != nil {
			return nil, err
		}
	}
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &a, nil
}

// check proves the loaded files belong to one authority.
func (a *Authority) check() error {
	oc, err := jwt.DecodeOperatorClaims(a.operatorJWT)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrKeyMaterial, OperatorJWTFile, err)
	}
	if a.operator != nil && oc.Subject != mustPublic(a.operator) {
		return fmt.Errorf("%w: %s does not belong to %s", ErrKeyMaterial, OperatorSeedFile, OperatorJWTFile)
	}
	if !oc.SigningKeys.Contains(mustPublic(a.opSigner)) {
		return fmt.Errorf("%w: %s is not a signing key of %s", ErrKeyMaterial, OperatorSignerFile, OperatorJWTFile)
	}
	if oc.SystemAccount != mustPublic(a.sys) {
		return fmt.Errorf("%w: %s is not the operator's system account", ErrKeyMaterial, SystemSeedFile)
	}
	sc, err := jwt.DecodeAccountClaims(a.sysJWT)
	if err != nil || sc.Subject != mustPublic(a.sys) || !sc.SigningKeys.Contains(mustPublic(a.sysSigner)) {
		return fmt.Errorf("%w: %s does not match %s and %s", ErrKeyMaterial, SystemJWTFile, SystemSeedFile, SystemSignerFile)
	}
	for _, f := range []struct {
		jwtFile, seedFile, token string
		kp                       nkeys.KeyPair
	}{{AccountJWTFile, AccountSeedFile, a.accountJWT, a.account}} {
		ac, err := jwt.DecodeAccountClaims(f.token)
		if err != nil || ac.Subject != mustPublic(f.kp) || !oc.DidSign(ac) {
			return fmt.Errorf("%w: %s does not match %s and %s", ErrKeyMaterial, f.jwtFile, f.seedFile, OperatorJWTFile)
		}
	}
	return nil
}

func readSeed(path string, want nkeys.PrefixByte) (nkeys.KeyPair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w; run init, or restore the file from backup", ErrKeyMaterial, err)
	}
	seed := bytes.TrimSpace(data)
	defer wipe(data)
	prefix, _, err := nkeys.DecodeSeed(seed)
	if err != nil || prefix != want {
		return nil, fmt.Errorf("%w: %s does not hold a %s seed", ErrKeyMaterial, path, want)
	}
	return nkeys.FromSeed(seed)
}

func readJWT(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w; run init, or restore the file from backup", ErrKeyMaterial, err)
	}
	return string(bytes.TrimSpace(data)), nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// mustPublic returns kp's public key; nkeys only fails for a wiped pair.
func mustPublic(kp nkeys.KeyPair) string {
	pub, err := kp.PublicKey()
	if err != nil {
		panic("auth: key pair without public key: " + err.Error())
	}
	return pub
}

// memberSigner derives member's scoped signing key in the account named
// account from the TOCSIN account seed: HMAC-SHA256(seed, label || account
// || 0 || member id). The same member always gets the same key, so no
// per-member secret is stored, and a new authority gives every member a
// new one.
func (a *Authority) memberSigner(account, member string) (nkeys.KeyPair, error) {
	return a.derive(memberKeyDerivation + account + "\x00" + member)
}

// derive returns the account-type key HMAC-SHA256(TOCSIN seed, label).
func (a *Authority) derive(label string) (nkeys.KeyPair, error) {
	seed, err := a.account.Seed()
	if err != nil {
		return nil, fmt.Errorf("%w: account seed: %v", ErrKeyMaterial, err)
	}
	_, raw, err := nkeys.DecodeSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("%w: account seed: %v", ErrKeyMaterial, err)
	}
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(label))
	return nkeys.FromRawSeed(nkeys.PrefixByteAccount, mac.Sum(nil))
}

// OperatorJWT is the operator JWT every node trusts.
func (a *Authority) OperatorJWT() string { return a.operatorJWT }

// SystemAccount is the system account's public key.
func (a *Authority) SystemAccount() string { return mustPublic(a.sys) }

// Account is the TOCSIN account's public key: the account Tocsin's
// streams, buckets, services and admins live in (pass it to
// Cluster.WaitStreams).
func (a *Authority) Account() string { return mustPublic(a.account) }

// SystemAccountJWT is the system account's JWT.
func (a *Authority) SystemAccountJWT() string { return a.sysJWT }

// InitialAccountJWTs is the TOCSIN account JWT written by Init (no
// members).
func (a *Authority) InitialAccountJWTs() []string { return []string{a.accountJWT} }

// ServerAuth returns what a node needs: the operator JWT, the system
// account and, preloaded, the system account JWT and accountJWTs (the
// current TOCSIN and member account JWTs from AccountJWTs; nil for the
// one Init wrote). A node keeps whichever of a preload and a pushed JWT is newer.
func (a *Authority) ServerAuth(accountJWTs []string) *ServerAuth {
	if accountJWTs == nil {
		accountJWTs = a.InitialAccountJWTs()
	}
	return &ServerAuth{
		OperatorJWT:   a.operatorJWT,
		SystemAccount: a.SystemAccount(),
		AccountJWTs:   append([]string{a.sysJWT}, accountJWTs...),
	}
}
