package cli

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// An admin's status request crosses its account's import of TOCSIN's
// tocsin.svc.status export, and every node's answer comes back through it.
// A singleton export let only the first answer through: on stream sets
// (docs/REGIONS.md) that was the witness's, which holds no stream, so
// `tocsin status` showed no stream at all.
func TestStatusGathersEveryNodesAnswer(t *testing.T) {
	d := startDevCluster(t)
	c, _, err := d.connect(filepath.Join(d.data, "creds", "admin.creds"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	answers, err := gatherAnswers(ctx, c.Conn())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range answers {
		names = append(names, a.Node)
	}
	slices.Sort(names)
	if len(slices.Compact(slices.Clone(names))) != 3 || len(names) != 3 {
		t.Fatalf("answers from %v, want one from each of the dev cluster's 3 nodes", names)
	}
}
