package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/site"
	"github.com/tocsin-project/tocsin/subjects"
)

// siteStatus asks the server the CLI is connected to whether it is a
// member's site; ok is false at the hub (no one answers there).
func siteStatus(ctx context.Context, nc *nats.Conn) (*site.Status, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subjects.SvcSite, nil)
	if err != nil {
		return nil, false
	}
	var st site.Status
	if err := json.Unmarshal(m.Data, &st); err != nil {
		return nil, false
	}
	return &st, true
}

// printSiteStatus prints a site's link, sources and outbox.
func printSiteStatus(g *globals, st *site.Status) {
	link := "up"
	if !st.LinkUp {
		link = "DOWN (messages are queued at the site)"
	}
	fmt.Fprintf(g.stdout, "site %s of %s (domain %s)\n", st.Name, st.Member, st.Domain)
	fmt.Fprintf(g.stdout, "link to the hub: %s since %s (%s)\n", link, st.Since.Local().Format(time.DateTime), time.Since(st.Since).Round(time.Second))
	for _, s := range st.Sources {
		line := fmt.Sprintf("  %-10s %6d messages, lag %d, last heard %s ago", s.Stream, s.Messages, s.Lag, s.Active.Round(time.Millisecond))
		if s.Error != "" {
			line += ", error: " + s.Error
		}
		fmt.Fprintln(g.stdout, line)
	}
	fmt.Fprintf(g.stdout, "outbox: %d messages, %d of %d bytes not at the hub yet\n", st.OutboxMessages, st.OutboxBytes, st.OutboxCap)
	fmt.Fprintf(g.stdout, "served during a cut: the directory as of %s, the board as of %s\n", keptAt(st.DirectoryFetched), keptAt(st.BoardKept))
}

// keptAt says when the site kept a copy, and how long ago.
func keptAt(t time.Time) string {
	if t.IsZero() {
		return "never (no copy yet)"
	}
	return fmt.Sprintf("%s (%s ago)", t.Local().Format(time.DateTime), time.Since(t).Round(time.Second))
}

// queuedAtSite reports, after the publish of message id, whether it was
// stored by the member's site (the CLI is connected to a site, not the
// hub); if so it says so, with the id. The site forwards it to the hub, now or once its link is
// back; the router's outcome and the board are the hub's, not the site's,
// so the command ends here.
func queuedAtSite(ctx context.Context, g *globals, cl *client.Client, id string) bool {
	if !cl.StoredAtSite() {
		return false
	}
	up := cl.HubReachable(ctx)
	if g.json {
		_ = g.printJSON(map[string]any{"id": id, "queued_at_site": true, "hub_reachable": up})
		return true
	}
	if up {
		fmt.Fprintf(g.stdout, "queued at the site: the link to the hub is up, it is being forwarded (message %s)\n", id)
	} else {
		fmt.Fprintf(g.stdout, "queued at the site: the hub is unreachable; it is forwarded once the link is back (message %s)\n", id)
	}
	return true
}
