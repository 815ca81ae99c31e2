package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/server"
	"github.com/tocsin-project/tocsin/site"
	"github.com/tocsin-project/tocsin/subjects"
)

func init() { register(newStatusCmd) }

// atSite says whether nc is connected to a member's site, by the server's
// name. Only a site answers tocsin.svc.site: at the hub the request would
// be a permissions violation, which the node logs, waited out for 2 s.
func atSite(nc *nats.Conn) bool {
	return strings.HasPrefix(nc.ConnectedServerName(), site.ServerNamePrefix)
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the cluster: nodes, meta leader, streams with replicas, leader, messages, bytes, lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			nc, err := g.connect(ctx, "tocsin status")
			if err != nil {
				return err
			}
			defer nc.Close()
			if atSite(nc) {
				if st, ok := siteStatus(ctx, nc); ok {
					if g.json {
						return g.printJSON(st)
					}
					printSiteStatus(g, st)
					return nil
				}
			}
			st, err := gatherStatus(ctx, nc)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(st)
			}
			printStatus(g, st)
			return nil
		},
	}
}

// answerWait bounds how long gatherAnswers waits, after the first answer,
// for the other nodes': a node answers after reading its streams' info,
// which its status handler bounds at 2 s (server.StatusReadTimeout), plus
// the round trip across a gateway.
const answerWait = server.StatusReadTimeout + time.Second

// gatherStatus asks every node for its view and merges the answers.
func gatherStatus(ctx context.Context, nc *nats.Conn) (*server.Status, error) {
	answers, err := gatherAnswers(ctx, nc)
	if err != nil {
		return nil, err
	}
	return server.Merge(answers), nil
}

// gatherAnswers asks every node for its view: it waits for the first
// answer, then until every node an answer says is up has answered, at most
// answerWait (a node up in the meta group may not serve yet, or may have
// just died). A witness, which holds no stream, answers before the nodes
// that read their streams' info; on stream sets each region's nodes
// report their own region's set, so one answer is not the cluster.
func gatherAnswers(ctx context.Context, nc *nats.Conn) ([]*server.Status, error) {
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subjects.SvcStatus, inbox, nil); err != nil {
		return nil, err
	}
	var answers []*server.Status
	answered, up := map[string]bool{}, map[string]bool{}
	gctx := ctx
	for {
		if len(answers) > 0 && allAnswered(up, answered) {
			break
		}
		m, err := sub.NextMsgWithContext(gctx)
		if err != nil {
			break
		}
		var st server.Status
		if err := json.Unmarshal(m.Data, &st); err != nil {
			continue
		}
		if len(answers) == 0 {
			var cancel context.CancelFunc
			gctx, cancel = context.WithTimeout(ctx, answerWait)
			defer cancel()
		}
		answers = append(answers, &st)
		answered[st.Node] = true
		for _, n := range st.Nodes {
			if n.Up {
				up[n.Name] = true
			}
		}
	}
	if len(answers) == 0 {
		return nil, fmt.Errorf("no node answered on %s: %w", subjects.SvcStatus, context.DeadlineExceeded)
	}
	return answers, nil
}

// allAnswered reports whether every node in up has answered.
func allAnswered(up, answered map[string]bool) bool {
	for n := range up {
		if !answered[n] {
			return false
		}
	}
	return true
}

func printStatus(g *globals, st *server.Status) {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tURL\tUP\tMETA LEADER")
	for _, n := range st.Nodes {
		leader := ""
		if n.Name == st.MetaLeader {
			leader = "*"
		}
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", n.Name, n.URL, n.Up, leader)
	}
	w.Flush()
	fmt.Fprintln(g.stdout)
	w = tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STREAM\tREPLICAS\tLEADER\tMESSAGES\tBYTES\tLAG")
	for _, s := range st.Streams {
		fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%d\t%d\n", s.Name, s.Replicas, s.Leader, s.Messages, s.Bytes, s.Lag)
	}
	w.Flush()
	fmt.Fprintf(g.stdout, "\ndead letters: %d", st.DeadLetters)
	if st.DeadLetters > 0 {
		fmt.Fprint(g.stdout, " (messages the services could not decide after their retries, kept and tried again every 10 minutes: 'nats kv ls DEADLETTER' lists them, docs/RELIABILITY.md says what to do)")
	}
	fmt.Fprintln(g.stdout)
	if len(st.Problems) > 0 {
		fmt.Fprintln(g.stdout, "\nproblems:\n  "+strings.Join(st.Problems, "\n  "))
	}
}
