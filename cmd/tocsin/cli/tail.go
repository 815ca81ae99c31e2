package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

func init() { register(newTailCmd) }

// tailLine is one message as `tocsin tail --json` prints it.
type tailLine struct {
	Time     time.Time `json:"time"`
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Sender   string    `json:"sender"`
	Verified bool      `json:"verified"`
	Reason   string    `json:"reason,omitempty"`
	TLP      string    `json:"tlp,omitempty"`
	Lane     string    `json:"lane,omitempty"`
	Subject  string    `json:"subject"`
	// Region is the region whose router routed the copy, on a channel
	// with a stream set per region (its subject's tocsin.r.<region>.…):
	// what tocsin ack --region names.
	Region   string `json:"region,omitempty"`
	Title    string `json:"title,omitempty"`
	Exercise bool   `json:"exercise,omitempty"`
	Summary  string `json:"summary,omitempty"`
	// Sighting is a sighting summary's count, when the message is one.
	Sighting *tailSighting `json:"sighting,omitempty"`
}

// tailSighting is a sighting summary as `tocsin tail --json` prints it.
// Organisations is there only from records.SightingFloor up; below it
// FewerThan says "fewer than 3" and no number is printed (the router sends
// none either).
type tailSighting struct {
	AlertID       string   `json:"alert_id"`
	Sector        string   `json:"sector"`
	IndicatorID   string   `json:"indicator_id,omitempty"`
	Pattern       string   `json:"pattern,omitempty"`
	Organisations int      `json:"organisations,omitempty"`
	FewerThan     int      `json:"fewer_than,omitempty"`
	Named         []string `json:"named,omitempty"`
}

// sightingOf is what tail shows of a summary, the floor applied again.
func sightingOf(p *tocsinv1.SightingSummary) *tailSighting {
	s := &tailSighting{AlertID: p.GetAlertId(), Sector: p.GetSector(), IndicatorID: p.GetIndicatorId(), Pattern: p.GetPattern(),
		Organisations: records.SightingOrganisations(p.GetOrganisations())}
	if s.Organisations == 0 {
		s.FewerThan = records.SightingFloor
	} else {
		s.Named = p.GetNamed()
	}
	return s
}

// text is the summary's line: "seen at 4 other organisations in
// patient-care: indicator--... [pattern] (alert ...)".
func (s *tailSighting) text() string {
	n := strconv.Itoa(s.Organisations)
	if s.Organisations == 0 {
		n = "fewer than " + strconv.Itoa(s.FewerThan)
	}
	t := "seen at " + n + " other organisations in " + s.Sector
	if s.IndicatorID != "" {
		t += ": " + s.IndicatorID
	}
	if s.Pattern != "" {
		t += " " + s.Pattern
	}
	t += " (alert " + s.AlertID
	if len(s.Named) > 0 {
		t += "; named: " + strings.Join(s.Named, ", ")
	}
	return t + ")"
}

func newTailCmd(g *globals) *cobra.Command {
	var sectors, lanes []string
	var count int
	cmd := &cobra.Command{
		Use:   "tail [--sectors ...] [--lanes ...]",
		Short: "Show alerts and advisories for your sectors and inbox as they arrive, verified sender and TLP first",
		Long: `Watch, live, what the router delivers to your sectors and your direct inbox. Every
message is verified against the member directory before it is shown. It shows what
arrives from now on; your agent's consumers keep everything for catch-up.

A sighting summary shows how many other organisations of a sector have seen an
alert's indicator: "seen at 4 other organisations in patient-care:
indicator--... [ipv4-addr:value = '...']". Below 3 it says "fewer than 3" (and
--json has "fewer_than": 3, no number): a count of one or two could point at a
hospital, so the router never sends one.

On a channel with a stream set per region (docs/REGIONS.md), a member homed in
a region (the member directory says which) watches every region's copies,
tocsin.r.*.sector.<sector>.> and tocsin.r.*.inbox.<member>; each line says
"routed in <region>" ("region" with --json), which tocsin ack --region takes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cctx, cancel := context.WithTimeout(ctx, g.timeout)
			defer cancel()
			c, err := g.connectClient(cctx, "tocsin tail")
			if err != nil {
				return err
			}
			defer c.Close()
			dir, err := fetchDirectory(cctx, c.Conn())
			if err != nil {
				return &exitError{ExitUnreachable, fmt.Errorf("member directory: %w", err)}
			}
			reg := directoryOf(dir)
			me, ok := reg[c.Member()]
			if !ok {
				return rejectedErr(fmt.Errorf("%s is not in the member directory", c.Member()))
			}
			if len(sectors) == 0 {
				sectors = me.GetSectors()
			}
			verifier := envelope.NewVerifier(reg, envelope.VerifyOptions{})
			out := make(chan *nats.Msg, 256)
			// A member homed in a region reads every region's copies.
			inRegions := func(s string) string { return s }
			if me.GetHomeRegion() != "" {
				inRegions = func(s string) string { return subjects.InRegion(subjects.AnyRegion, s) }
			}
			subjectsToWatch := []string{inRegions(subjects.Inbox(c.Member()))}
			for _, s := range sectors {
				subjectsToWatch = append(subjectsToWatch, inRegions(subjects.SectorAll(s)))
			}
			for _, s := range subjectsToWatch {
				if _, err := c.Conn().ChanSubscribe(s, out); err != nil {
					return err
				}
			}
			if err := c.Conn().FlushTimeout(g.timeout); err != nil {
				return &exitError{ExitUnreachable, err}
			}
			if err := c.Conn().LastError(); err != nil {
				if me.GetHomeRegion() != "" {
					// Accounts pushed by an older tocsin import only the single
					// cluster's subjects.
					err = fmt.Errorf("%w; a member homed in a region watches every region's copies: if its account was pushed by an older tocsin, push it again (tocsin members sync, with the keys)", err)
				}
				return rejectedErr(fmt.Errorf("watch %s: %w", strings.Join(subjectsToWatch, ", "), err))
			}
			fmt.Fprintf(g.stderr, "watching %s as %s (Ctrl-C to stop)\n", strings.Join(subjectsToWatch, ", "), c.Member())
			for shown := 0; count == 0 || shown < count; {
				select {
				case <-ctx.Done():
					return nil
				case m := <-out:
					line := describeDelivery(ctx, verifier, m, c.Member(), subjectsToWatch)
					if len(lanes) > 0 && line.Lane != "" && !slices.Contains(lanes, line.Lane) {
						continue
					}
					printTail(g, line)
					shown++
				}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&sectors, "sectors", nil, "sectors to watch (default: all of yours)")
	cmd.Flags().StringSliceVar(&lanes, "lanes", nil, "lanes to show: flash, urgent, routine, info (default: all)")
	cmd.Flags().IntVar(&count, "count", 0, "stop after showing this many messages (default 0: until interrupted)")
	return cmd
}

// fetchDirectory fetches the member directory, retrying while no node
// answers yet (a node starting, an account update being applied).
func fetchDirectory(ctx context.Context, nc *nats.Conn) ([]*tocsinv1.Member, error) {
	for {
		dir, err := records.FetchDirectory(ctx, nc)
		if err == nil || ctx.Err() != nil {
			return dir, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// directory answers the verifier from a fetched copy of the directory.
type directory map[string]*tocsinv1.Member

func directoryOf(ms []*tocsinv1.Member) directory {
	d := directory{}
	for _, m := range ms {
		d[m.GetId()] = m
	}
	return d
}

// Member implements envelope.Registry.
func (d directory) Member(_ context.Context, id string) (*tocsinv1.Member, error) {
	if m, ok := d[id]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("%w: %s", envelope.ErrUnknownMember, id)
}

// describeDelivery verifies one delivered message and says what it is.
// Only a message addressed where it arrived (checkAddressed) is verified.
func describeDelivery(ctx context.Context, v *envelope.Verifier, m *nats.Msg, member string, watched []string) tailLine {
	line := tailLine{Time: time.Now().UTC(), Subject: m.Subject, TLP: m.Header.Get(records.HeaderTLP)}
	region, plain := subjects.OutOfRegion(m.Subject)
	line.Region = region
	if t := strings.Split(plain, "."); len(t) == 4 && t[1] == "sector" {
		line.Lane = t[3]
	}
	env, err := envelope.Decode(m.Data, 0)
	if err != nil {
		line.Reason = codes.Name(codes.Of(err)) + ": " + err.Error()
		return line
	}
	line.ID, line.Sender = env.GetId(), env.GetSender()
	line.Kind = strings.ToLower(strings.TrimPrefix(env.GetKind().String(), "KIND_"))
	payload, err := envelope.PayloadFor(env.GetKind())
	if err == nil {
		_, err = v.Open(ctx, env, payload)
	}
	if err != nil {
		line.Reason = codes.Name(codes.Of(err)) + ": " + err.Error()
		return line
	}
	if err := checkAddressed(m.Subject, member, watched, payload); err != nil {
		line.Reason = err.Error()
		return line
	}
	line.Verified = true
	switch p := payload.(type) {
	case *tocsinv1.Alert:
		line.Title, line.Exercise = p.GetTitle(), p.GetExercise()
		if l, err := tlp.FromProto(p.GetTlp()); err == nil && line.TLP == "" {
			line.TLP = l.String()
		}
		if p.GetRevoked() {
			line.Summary = "REVOKED " + p.GetAmends() + ": " + p.GetReason()
		} else if p.GetAmends() != "" {
			line.Summary = "amends " + p.GetAmends()
		}
	case *tocsinv1.Advisory:
		line.Title, line.Exercise = p.GetTitle(), p.GetExercise()
	case *tocsinv1.SightingSummary:
		line.Sighting, line.Exercise = sightingOf(p), p.GetExercise()
		line.Summary = line.Sighting.text()
		if l, err := tlp.FromProto(p.GetTlp()); err == nil && line.TLP == "" {
			line.TLP = l.String()
		}
	default:
		line.Summary = string(proto.MessageName(payload).Name())
	}
	return line
}

func printTail(g *globals, l tailLine) {
	if g.json {
		data, _ := json.Marshal(l)
		fmt.Fprintln(g.stdout, string(data))
		return
	}
	who := "verified from " + l.Sender
	if !l.Verified {
		who = "UNVERIFIED (" + l.Reason + ")"
		if l.Sender != "" {
			who += " claims " + l.Sender
		}
	}
	tags := []string{l.Time.Local().Format("15:04:05"), who}
	if l.TLP != "" {
		tags = append(tags, "TLP:"+strings.ToUpper(l.TLP))
	}
	if l.Lane != "" {
		tags = append(tags, strings.ToUpper(l.Lane))
	}
	tags = append(tags, l.Kind)
	if l.Exercise {
		tags = append(tags, "EXERCISE")
	}
	if l.Region != "" {
		tags = append(tags, "routed in "+l.Region)
	}
	text := strings.TrimSpace(l.Title + "  " + l.Summary)
	fmt.Fprintf(g.stdout, "%s  %s  [%s]\n", strings.Join(tags, "  "), text, l.ID)
}
