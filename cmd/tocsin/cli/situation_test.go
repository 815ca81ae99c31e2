package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tocsin-project/tocsin/mutualaid"
)

// TestSituationRefusesAnUnknownRegion: a mistyped region is refused (exit
// 2) naming the regions there are, not an empty board with exit 0; a known
// region with no report yet is an empty board.
func TestSituationRefusesAnUnknownRegion(t *testing.T) {
	ac := newAidCluster(t)
	var stdout, stderr bytes.Buffer
	code := Main([]string{"situation", "--region", "nrotheast", "--server", ac.c.ClientURL(), "--creds", ac.creds["hilltop"]}, &stdout, &stderr)
	out := stderr.String()
	if code != ExitRejected || !strings.Contains(out, `region "nrotheast" has no members; known regions: `) || !strings.Contains(out, "northeast") {
		t.Fatalf("a mistyped region: exit %d, %q", code, out)
	}
	var board mutualaid.Board
	ac.ok(&board, "hilltop", "situation", "--region", "northeast")
	if board.Region != "northeast" || len(board.Facilities) != 0 {
		t.Fatalf("a known region with no report: %+v", board)
	}
}
