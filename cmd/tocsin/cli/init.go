package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func init() { register(newInitCmd) }

// Files tocsin init writes besides the authority's (auth.Init).
const (
	// adminsFile is the first admin's registry record, in the seed format;
	// every `tocsin members` change seeds it into the registry.
	adminsFile = "admins.yaml"
	// pushCredsFile holds a system user's credentials (pushes account JWTs).
	pushCredsFile = "sys.creds"
	// nodesDir holds one directory per node: all that node needs.
	nodesDir = "nodes"
	// serviceCredsFile is a node's service credentials, in its directory.
	serviceCredsFile = "service.creds"
	// tlsDir holds the cluster's CA (in the keys dir) or a node's TLS files.
	tlsDir = "tls"
	// caKeyFile is the cluster CA's private key, in DIR/tls.
	caKeyFile = "ca-key.pem"

	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 2 * 365 * 24 * time.Hour
)

// initResult is what --json prints: the files, by where they belong.
type initResult struct {
	Dir   string              `json:"dir"`
	Keep  []string            `json:"keep"`
	Nodes map[string][]string `json:"nodes"`
	Admin string              `json:"admin_creds"`
}

func newInitCmd(g *globals) *cobra.Command {
	var (
		dir, admin     string
		nodes, tlsHost []string
	)
	cmd := &cobra.Command{
		Use:   "init --dir DIR [--nodes tocsin-1,tocsin-2,tocsin-3] [--tls-hosts HOST,...]",
		Short: "Create a real cluster's keys, the nodes' credentials and certificates, and the first admin",
		Long: `Create, once, everything a real cluster needs: the operator and account keys,
each node's directory (public JWTs, service credentials, TLS certificate; no
seed), a system user that pushes account JWTs, the first admin's credentials,
and a private CA for the nodes' certificates. Run it on the admin workstation.
It refuses to write into a directory that is not empty.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageErr("--dir DIR is required: where the keys are created (a new, empty directory)")
			}
			res, err := initAuthority(dir, nodes, admin, tlsHost)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			printInit(g.stdout, res, tlsHost)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "new directory for the keys (created 0700)")
	f.StringSliceVar(&nodes, "nodes", []string{"tocsin-1", "tocsin-2", "tocsin-3"}, "the nodes' names (their config's name:)")
	f.StringVar(&admin, "admin", "admin", "member id of the first admin")
	f.StringSliceVar(&tlsHost, "tls-hosts", nil, "addresses and DNS names clients and peers dial (SANs of every node certificate, besides its name)")
	return cmd
}

// initAuthority writes everything tocsin init promises into dir.
func initAuthority(dir string, nodes []string, admin string, hosts []string) (*initResult, error) {
	if err := checkNewDir(dir); err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if !envelope.ValidMemberID("svc-" + n) {
			return nil, usageErr("--nodes: %q is not a node name: use lowercase letters, digits and dashes", n)
		}
	}
	if len(nodes) == 0 {
		return nil, usageErr("--nodes: name at least one node")
	}
	a, err := auth.Init(dir)
	if err != nil {
		return nil, err
	}
	res := &initResult{Dir: dir, Nodes: map[string][]string{}, Admin: filepath.Join(dir, admin+".creds")}
	adminRecord, creds, err := firstAdmin(a, admin)
	if err != nil {
		return nil, err
	}
	jwts, err := a.AccountJWTs([]*tocsinv1.Member{adminRecord})
	if err != nil {
		return nil, err
	}
	push, err := a.IssueSystemUser("tocsin-push")
	if err != nil {
		return nil, err
	}
	seed, err := adminSeed(adminRecord)
	if err != nil {
		return nil, err
	}
	adminAccount := filepath.Join(auth.AccountsDir, admin+".jwt")
	public := map[string]string{auth.OperatorJWTFile: a.OperatorJWT(), auth.SystemJWTFile: a.SystemAccountJWT(), auth.AccountJWTFile: jwts[0], adminAccount: jwts[1]}
	// The account JWTs admit the first admin from the start.
	if err := os.MkdirAll(filepath.Join(dir, auth.AccountsDir), 0o700); err != nil {
		return nil, err
	}
	for _, name := range []string{auth.AccountJWTFile, adminAccount} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(public[name]+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	for name, data := range map[string][]byte{admin + ".creds": creds, pushCredsFile: push, adminsFile: seed} {
		if err := writeSecret(filepath.Join(dir, name), data); err != nil {
			return nil, err
		}
	}
	var ca *broker.CA
	if ca, err = writeCA(dir); err != nil {
		return nil, err
	}
	for _, n := range nodes {
		files, err := writeNodeDir(a, ca, filepath.Join(dir, nodesDir, n), n, public, hosts)
		if err != nil {
			return nil, err
		}
		res.Nodes[n] = files
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Name() != nodesDir {
			res.Keep = append(res.Keep, e.Name())
		}
	}
	return res, nil
}

// checkNewDir refuses a dir that exists and is not empty.
func checkNewDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return usageErr("--dir %q: %v", dir, err)
	case len(entries) > 0:
		return usageErr("--dir %q exists and is not empty: key material is never overwritten; choose a new directory", dir)
	}
	return nil
}

// firstAdmin is the first admin's record (with its new key) and its .creds.
func firstAdmin(a *auth.Authority, id string) (*tocsinv1.Member, []byte, error) {
	now := time.Now()
	m := &tocsinv1.Member{Id: id, Name: "Tocsin administrator", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_ADMIN}, CreatedAt: timestamppb.New(now)}
	if err := members.Validate(m, members.DefaultVocabulary()); err != nil {
		return nil, nil, usageErr("--admin: %v", err)
	}
	creds, pub, err := a.IssueMember(m)
	if err != nil {
		return nil, nil, err
	}
	m.Keys = []*tocsinv1.SigningKey{{PublicKey: pub, NotBefore: timestamppb.New(now.Add(-time.Minute))}}
	return m, creds, nil
}

// adminSeed is m in the seed format (members.LoadSeed).
func adminSeed(m *tocsinv1.Member) ([]byte, error) {
	type key struct {
		PublicKey string `yaml:"public_key"`
		NotBefore string `yaml:"not_before"`
	}
	type record struct {
		ID    string   `yaml:"id"`
		Name  string   `yaml:"name"`
		Roles []string `yaml:"roles"`
		Keys  []key    `yaml:"keys"`
	}
	k := m.GetKeys()[0]
	data, err := yaml.Marshal([]record{{ID: m.GetId(), Name: m.GetName(), Roles: []string{"admin"},
		Keys: []key{{PublicKey: k.GetPublicKey(), NotBefore: k.GetNotBefore().AsTime().Format(time.RFC3339)}}}})
	if err != nil {
		return nil, err
	}
	return append([]byte("# The first admin, seeded into the registry by the first `tocsin members` change.\n"), data...), nil
}

// writeCA creates the cluster's CA in dir/tls.
func writeCA(dir string) (*broker.CA, error) {
	ca, err := broker.NewCA("Tocsin cluster CA", caValidity)
	if err != nil {
		return nil, err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, tlsDir), 0o700); err != nil {
		return nil, err
	}
	if err := writeSecret(filepath.Join(dir, tlsDir, broker.CAFile), ca.CertPEM()); err != nil {
		return nil, err
	}
	return ca, writeSecret(filepath.Join(dir, tlsDir, caKeyFile), key)
}

// writeNodeDir writes what node needs into dir and lists the files.
func writeNodeDir(a *auth.Authority, ca *broker.CA, dir, node string, public map[string]string, hosts []string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, auth.AccountsDir), 0o700); err != nil {
		return nil, err
	}
	var files []string
	for _, name := range slices.Sorted(maps.Keys(public)) {
		if err := writeSecret(filepath.Join(dir, name), []byte(public[name]+"\n")); err != nil {
			return nil, err
		}
		files = append(files, name)
	}
	creds, err := a.IssueService("tocsin-service-" + node)
	if err != nil {
		return nil, err
	}
	if err := writeSecret(filepath.Join(dir, serviceCredsFile), creds); err != nil {
		return nil, err
	}
	if _, err := ca.WriteCertFiles(filepath.Join(dir, tlsDir), node, append([]string{node}, hosts...), certValidity); err != nil {
		return nil, err
	}
	return append(files, serviceCredsFile, tlsDir+"/"+broker.CertFile, tlsDir+"/"+broker.KeyFile, tlsDir+"/"+broker.CAFile), nil
}

// writeSecret creates path with mode 0600; it never replaces a file.
func writeSecret(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usageErr("%v; nothing is overwritten: choose another path", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func printInit(w io.Writer, res *initResult, hosts []string) {
	d := res.Dir
	fmt.Fprintf(w, "created the Tocsin authority in %s\n\n", d)
	fmt.Fprintf(w, "keep on the admin workstation only (%s, mode 0700), backed up encrypted:\n", d)
	for _, l := range [][2]string{
		{auth.OperatorSeedFile, "operator identity: signs operator.jwt only. Move it OFFLINE now (encrypted media in a safe, two copies); nothing else needs it"},
		{auth.OperatorSignerFile, "operator signing key: signs every account JWT (tocsin members needs it)"},
		{"SYS.nk SYS-signing.nk", "system account: signs the users that push account JWTs"},
		{"TOCSIN.nk", "the TOCSIN account's key; it also derives every member's account and signing key"},
		{auth.ServiceSignerFile, "signs the services' credentials"},
		{filepath.Base(res.Admin), "the first admin's credentials (tocsin members --creds)"},
		{pushCredsFile, "a system user that pushes account JWTs (nats CLI)"},
		{adminsFile, "the first admin's registry record; the first tocsin members change adds it"},
		{"tls/" + caKeyFile, "the cluster CA's key: signs node certificates; whoever holds it can join the routes"},
		{"*.jwt accounts/ tls/ca.pem", "public: operator and account JWTs, the CA certificate"},
	} {
		fmt.Fprintf(w, "  %-22s %s\n", l[0], l[1])
	}
	fmt.Fprintf(w, "\ncopy to each node NODE the directory %s/NODE/ (for example to /etc/tocsin/auth, owner tocsin, mode 0700).\n"+
		"It holds no operator or account seed; service.creds and tls/key.pem are that node's own secrets:\n", filepath.Join(d, nodesDir))
	for _, l := range [][2]string{
		{"operator.jwt SYS.jwt TOCSIN.jwt accounts/", "what the node trusts and preloads (config auth: /etc/tocsin/auth)"},
		{serviceCredsFile, "the node's services (config service_creds: /etc/tocsin/auth/service.creds)"},
		{"tls/cert.pem tls/key.pem tls/ca.pem", "the node's certificate for clients and routes (config tls: and cluster.tls:)"},
	} {
		fmt.Fprintf(w, "  %-42s %s\n", l[0], l[1])
	}
	fmt.Fprintf(w, "  nodes: %s\n", joinKeys(res.Nodes))
	if len(hosts) == 0 {
		fmt.Fprintln(w, "\nthe node certificates name only the node (no --tls-hosts): clients and routes must dial the nodes by those names")
	}
	fmt.Fprintf(w, "\nnext: start the nodes (deploy/README.md), then admit members with\n  tocsin members add --keys %s --creds %s --tls-ca %s ...\n",
		d, res.Admin, filepath.Join(d, tlsDir, broker.CAFile))
}

// joinKeys lists m's keys, sorted, comma-separated.
func joinKeys(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}
