package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// agentProc is one `tocsin agent` process and its JSONL sink.
type agentProc struct {
	spec AgentSpec
	sink string
	proc *proc
	read *sinkReader
}

// newAgentProc prepares (does not start) the agent of spec with the
// member's creds, its sink and state under dir.
func newAgentProc(bin, dir, urls, ca, creds string, spec AgentSpec) *agentProc {
	sink := filepath.Join(dir, "sinks", spec.Member+".jsonl")
	args := []string{"agent", "--server", urls, "--creds", creds, "--tls-ca", ca,
		"--sectors", strings.Join(spec.Sectors, ","), "--sink", "jsonl:" + sink,
		"--state", filepath.Join(dir, "state", spec.Member), "--log-level", "warn"}
	if len(spec.Lanes) > 0 {
		args = append(args, "--lanes", strings.Join(spec.Lanes, ","))
	}
	p := newProc(spec.Member, bin, filepath.Join(dir, "logs", spec.Member+".log"), args...)
	return &agentProc{spec: spec, sink: sink, proc: p, read: newSinkReader(sink)}
}

// memberSeed is one member of the seed file tocsin members add reads.
type memberSeed struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Sectors []string `yaml:"sectors"`
	Region  string   `yaml:"region"`
	// HomeRegion is the region whose stream set the member publishes into
	// and reads from (docs/REGIONS.md); "" in one cluster.
	HomeRegion string   `yaml:"home_region,omitempty"`
	Roles      []string `yaml:"roles"`
}

// writeSeed writes the run's members (publishers, agents, the bad-input
// sender) in the members seed format, each homed in home(id).
func writeSeed(path string, publishers []string, agents []AgentSpec, fuzzer string, home func(string) string) error {
	var ms []memberSeed
	add := func(id string, sectors []string) {
		ms = append(ms, memberSeed{ID: id, Name: "Chaos " + id, Sectors: sectors, Region: "northeast", HomeRegion: home(id), Roles: []string{"member"}})
	}
	for _, p := range publishers {
		add(p, []string{"patient-care"})
	}
	for _, a := range agents {
		add(a.Member, a.Sectors)
	}
	add(fuzzer, []string{"patient-care"})
	data, err := yaml.Marshal(ms)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// credsOf is where tocsin members add wrote a member's credentials.
func credsOf(dir, member string) string { return filepath.Join(dir, member+".creds") }

// admitArgs are the arguments of tocsin members add for the seed.
func (c *cluster) admitArgs(seed, out string) []string {
	return append([]string{"members", "add", "--file", seed, "--out", out}, c.adminFlags()...)
}

// adminFlags are an admin command's connection flags.
func (c *cluster) adminFlags() []string {
	return []string{"--keys", c.keys, "--creds", c.AdminCreds(), "--tls-ca", c.CA(), "--server", c.URLs(), "--timeout", "60s"}
}

// errNoAdminLeft is how tocsin members add refuses its push when its
// listing of the registry lacks the admins it seeded itself.
const errNoAdminLeft = "no active admin would be left"

// admit runs tocsin members add for the seed. The first admission of a
// cluster also seeds tocsin init's admins, and its push lists the registry
// by direct get, which any replica answers: one a moment behind lacks
// those admins, and the push is refused ("no active admin would be left
// ...") with every record, consumer and credentials file written (seen in
// half the first admissions of the regions layout). Then, as the
// refusal's command's other failures advise, tocsin members sync pushes
// the accounts again, up to three times. It says what it had to do.
func (c *cluster) admit(ctx context.Context, seed, out string) (string, error) {
	_, err := runTool(ctx, c.bin, c.admitArgs(seed, out)...)
	if err == nil || !strings.Contains(err.Error(), errNoAdminLeft) {
		return "", err
	}
	for try := 1; ; try++ {
		_, serr := runTool(ctx, c.bin, append([]string{"members", "sync"}, c.adminFlags()...)...)
		if serr == nil {
			return fmt.Sprintf("members add refused its push (%s ...); members sync pushed the accounts (try %d)", errNoAdminLeft, try), nil
		}
		if try == 3 || ctx.Err() != nil {
			return "", fmt.Errorf("%w; then members sync: %w", err, serr)
		}
		sleep(ctx, 2*time.Second)
	}
}

func (a *agentProc) String() string { return fmt.Sprintf("agent %s", a.spec.Member) }
