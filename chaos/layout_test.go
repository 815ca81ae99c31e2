package chaos

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-project/tocsin/server"
)

// The regions layout homes the run's members in east and west in turn, so
// either region's loss takes some of them; one cluster homes none.
func TestRegionsLayoutHomesMembersInBothRegions(t *testing.T) {
	l := regionsLayout(false)
	for member, want := range map[string]string{"pub-1": "east", "pub-2": "west", "pub-3": "east", "agt-1": "east", "agt-2": "west", "agt-4": "west", fuzzerID: "east"} {
		if got := l.homeOf(member); got != want {
			t.Errorf("homeOf(%s) = %q, want %q", member, got, want)
		}
	}
	if got := l.streamOf("INGEST", "agt-2"); got != "INGEST-west" {
		t.Errorf("agt-2's INGEST is %q, want INGEST-west", got)
	}
	one := oneCluster(false)
	if got := one.homeOf("agt-2") + one.streamOf("REJECTIONS", "agt-2"); got != "REJECTIONS" {
		t.Errorf("one cluster: agt-2 homed %q", got)
	}
}

// Every node of the regions layout is configured on stream sets (regions
// east and west, the registry in east), and a member lists its home
// region's nodes first.
func TestRegionsLayoutConfiguresStreamSets(t *testing.T) {
	ctx := testContext(t, time.Minute)
	c, err := newClusterOf(ctx, regionsLayout(false), tocsinBin, t.TempDir(), "always", false, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range c.nodes {
		data, err := os.ReadFile(n.config)
		if err != nil {
			t.Fatal(err)
		}
		var nc server.NodeConfig
		if err := yaml.Unmarshal(data, &nc); err != nil {
			t.Fatal(err)
		}
		if g := nc.Gateway; g == nil || strings.Join(g.Regions, ",") != "east,west" || g.RegistryRegion != "east" || g.StreamsRegion != "" {
			t.Errorf("%s's gateway: %+v", n.name, nc.Gateway)
		}
	}
	urls := strings.Split(c.memberURLs("agt-2"), ",")
	if len(urls) != 6 || urls[0] != c.regionNodes("west")[0].clientURL || urls[3] != c.regionNodes("east")[0].clientURL {
		t.Errorf("agt-2 (west) lists %v", urls)
	}
}

// Region losses take the region drawn from the seed first, then the
// other's.
func TestRegionLossesTakeEachRegionInTurn(t *testing.T) {
	w := &world{cl: &cluster{lay: regionsLayout(false)}, rng: rand.New(rand.NewPCG(7, 0x7063))}
	first, second, third := w.nextLoss(), w.nextLoss(), w.nextLoss()
	if first == second || first != third {
		t.Errorf("losses %s, %s, %s: want each region in turn", first, second, third)
	}
}
