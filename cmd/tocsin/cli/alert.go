package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/tlp"
)

func init() { register(newAlertCmd) }

func newAlertCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "alert", Short: "Publish, amend and revoke alerts"}
	cmd.AddCommand(newAlertPublishCmd(g), newAlertAmendCmd(g), newAlertRevokeCmd(g))
	return cmd
}

// alertFlags are the routing and human fields of an alert.
type alertFlags struct {
	file, lane, tlp, title, action, impact, contact string
	sectors, to                                     []string
	exercise, wait                                  bool
}

func (f *alertFlags) add(cmd *cobra.Command, needFile bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.file, "file", "", "STIX 2.1 bundle (JSON)")
	fl.StringSliceVar(&f.sectors, "sectors", nil, "sectors to route to (comma-separated; none = all, for clear and green)")
	fl.StringSliceVar(&f.to, "to", nil, "member ids that receive it directly (required for amber+strict and red)")
	fl.StringVar(&f.lane, "lane", "urgent", "lane: flash, urgent, routine or info")
	fl.StringVar(&f.tlp, "tlp", "", "TLP: clear, green, amber, amber+strict or red")
	fl.StringVar(&f.title, "title", "", "one-line summary")
	fl.StringVar(&f.action, "action", "", "recommended action")
	fl.StringVar(&f.impact, "impact", "", "patient-safety impact")
	fl.StringVar(&f.contact, "contact", "", "24/7 contact of your SOC")
	fl.BoolVar(&f.exercise, "exercise", false, "mark as an exercise (shown as such everywhere)")
	fl.BoolVar(&f.wait, "wait", false, "wait for the router's outcome: exit 0 routed or duplicate, 2 rejected")
	if needFile {
		_ = cmd.MarkFlagRequired("file")
	}
}

// build turns the flags into an Alert.
func (f *alertFlags) build(defaultTLP string) (*tocsinv1.Alert, error) {
	a := &tocsinv1.Alert{
		Title: f.title, Sectors: f.sectors, Recipients: f.to, RecommendedAction: f.action,
		PatientSafetyImpact: f.impact, Contact: f.contact, Exercise: f.exercise,
	}
	var err error
	if a.Lane, err = parseLane("--lane", f.lane); err != nil {
		return nil, err
	}
	spelled := f.tlp
	if spelled == "" {
		spelled = defaultTLP
	}
	level, err := parseTLP(spelled)
	if err != nil {
		return nil, err
	}
	a.Tlp = level.Proto()
	if f.file != "" {
		data, err := os.ReadFile(f.file)
		if err != nil {
			return nil, usageErr("--file: %v", err)
		}
		if !json.Valid(data) {
			return nil, usageErr("--file %s is not JSON: a STIX 2.1 bundle is expected", f.file)
		}
		a.StixBundle = data
	}
	return a, nil
}

func newAlertPublishCmd(g *globals) *cobra.Command {
	var f alertFlags
	cmd := &cobra.Command{
		Use:   "publish --file bundle.json --tlp LEVEL [--sectors ...] [--to ...] [--lane ...]",
		Short: "Publish an alert: a STIX 2.1 bundle with routing metadata, signed with your key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.build("")
			if err != nil {
				return err
			}
			if a.Title == "" {
				a.Title = defaultTitle(a)
			}
			return sendAlert(cmd.Context(), g, a, f.wait, nil)
		},
	}
	f.add(cmd, true)
	return cmd
}

func newAlertAmendCmd(g *globals) *cobra.Command {
	var f alertFlags
	cmd := &cobra.Command{
		Use:   "amend ID --file bundle.json",
		Short: "Send a new version of one of your alerts to everyone who got it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.build("clear")
			if err != nil {
				return err
			}
			a.Amends = args[0]
			if a.Title == "" {
				a.Title = "amended alert " + args[0]
			}
			return sendAlert(cmd.Context(), g, a, f.wait, nil)
		},
	}
	f.add(cmd, true)
	return cmd
}

func newAlertRevokeCmd(g *globals) *cobra.Command {
	var f alertFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke ID --file bundle.json --reason TEXT",
		Short: "Withdraw one of your alerts (a false positive) from everyone who got it, with revoked versions of its STIX objects",
		Long: `Withdraw one of your alerts from everyone who got it. --file is the bundle you
published as ID: each of its objects you created is sent again as a new version
(same id, a later modified, "revoked": true), signed by you, to the alert's
destinations under its TLP, so TAXII, the STIX folders and the SIEM records all
learn of the withdrawal. Identities, cyber-observables and other creators'
objects are left out; marking definitions are carried as they are.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageErr("--reason is required: say why the alert is withdrawn")
			}
			a, err := f.build("clear")
			if err != nil {
				return err
			}
			if a.StixBundle, err = stix.Revoke(a.GetStixBundle(), time.Now()); err != nil {
				return usageErr("--file %s: %v; give the bundle you published as %s", f.file, err, args[0])
			}
			a.Amends, a.Revoked, a.Reason = args[0], true, reason
			if a.Title == "" {
				a.Title = "REVOKED: alert " + args[0]
			}
			return sendAlert(cmd.Context(), g, a, f.wait, func(ctx context.Context, c *client.Client) error {
				if f.tlp != "" {
					return nil
				}
				// The revoked versions go out under the alert's own TLP.
				o, err := c.Outcome(ctx, args[0])
				if err != nil {
					return &exitError{ExitUnreachable, err}
				}
				if o == nil {
					return &exitError{ExitRejected, fmt.Errorf("no alert %s from %s: check the id", args[0], c.Member())}
				}
				if o.GetTlp() != tocsinv1.TLP_TLP_UNSPECIFIED {
					a.Tlp = o.GetTlp()
				}
				return nil
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&reason, "reason", "", "why the alert is withdrawn")
	return cmd
}

// publishResult is what --json prints.
type publishResult struct {
	ID            string          `json:"id"`
	Outcome       string          `json:"outcome"`
	DuplicateOf   string          `json:"duplicate_of,omitempty"`
	Organisations uint32          `json:"organisations"`
	Sectors       []string        `json:"sectors,omitempty"`
	Recipients    []string        `json:"recipients,omitempty"`
	TLP           string          `json:"tlp,omitempty"`
	Rejections    []problemResult `json:"rejections"`
	// ProblemCount is how many problems the router found: more than
	// Rejections lists when the rejection carries only the first ones.
	ProblemCount int `json:"problem_count,omitempty"`
	// Warnings are the problems a routed CSAF advisory was accepted with,
	// the first 100; WarningCount says how many there were.
	Warnings     []warningResult `json:"warnings,omitempty"`
	WarningCount int             `json:"warning_count,omitempty"`
}

type problemResult struct {
	Code     string `json:"code"`
	ObjectID string `json:"object_id,omitempty"`
	Path     string `json:"path,omitempty"`
	Message  string `json:"message"`
}

// connectClient connects as the member of --creds, with --tls-ca and
// extra connection options.
func (g *globals) connectClient(ctx context.Context, name string, extra ...nats.Option) (*client.Client, error) {
	tlsOpts, err := g.natsTLS()
	if err != nil {
		return nil, err
	}
	c, err := client.Connect(ctx, client.Options{Servers: g.server, CredsFile: g.creds, Name: name, Timeout: g.timeout, NATS: append(tlsOpts, extra...)})
	if errors.Is(err, client.ErrCreds) {
		return nil, usageErr("%v", err)
	}
	if errors.Is(err, client.ErrNotAccepted) {
		return nil, &exitError{ExitNotAccepted, err}
	}
	if err != nil {
		return nil, &exitError{ExitUnreachable, err}
	}
	return c, nil
}

// sendAlert seals a as the member of --creds and publishes it; prepare,
// when not nil, first completes a over the same connection.
func sendAlert(parent context.Context, g *globals, a *tocsinv1.Alert, wait bool, prepare func(context.Context, *client.Client) error) error {
	ctx, cancel := context.WithTimeout(parent, g.timeout)
	defer cancel()
	c, err := g.connectClient(ctx, "tocsin alert")
	if err != nil {
		return err
	}
	defer c.Close()
	if prepare != nil {
		if err := prepare(ctx, c); err != nil {
			return err
		}
	}
	env, err := c.Publish(ctx, tocsinv1.Kind_KIND_ALERT, a)
	if err != nil {
		return err
	}
	res := publishResult{ID: env.GetId(), Outcome: "published", Rejections: []problemResult{}}
	if !wait {
		if g.json {
			return g.printJSON(res)
		}
		fmt.Fprintf(g.stdout, "published %s (acknowledged by the cluster; --wait shows where it was routed)\n", env.GetId())
		return nil
	}
	o, err := c.WaitOutcome(ctx, env.GetId())
	if err != nil {
		return err
	}
	return printOutcome(g, env.GetId(), o)
}

// printOutcome prints the router's decision; rejected and held alerts
// return an exit-2 error.
func printOutcome(g *globals, id string, o *tocsinv1.Outcome) error {
	res := publishResult{ID: id, Outcome: strings.ToLower(strings.TrimPrefix(o.GetState().String(), "OUTCOME_STATE_")),
		DuplicateOf: o.GetDuplicateOf(), Organisations: o.GetOrganisations(), Sectors: o.GetSectors(), Recipients: o.GetRecipients(),
		Rejections: []problemResult{}}
	if l, err := tlp.FromProto(o.GetTlp()); err == nil {
		res.TLP = l.String()
	}
	for _, p := range o.GetRejection().GetProblems() {
		res.Rejections = append(res.Rejections, problemResult{Code: codes.Name(p.GetCode()), ObjectID: p.GetObjectId(), Path: p.GetPath(), Message: p.GetMessage()})
	}
	if o.GetRejection() != nil {
		res.ProblemCount = codes.ProblemCount(o.GetRejection())
	}
	res.addWarnings(o)
	failed := o.GetState() == tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED || o.GetState() == tocsinv1.OutcomeState_OUTCOME_STATE_HELD
	if g.json {
		if err := g.printJSON(res); err != nil {
			return err
		}
		if failed {
			return &exitError{ExitRejected, fmt.Errorf("%s %s", id, res.Outcome)}
		}
		return nil
	}
	switch o.GetState() {
	case tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED:
		where := fmt.Sprintf("%d sectors", len(o.GetSectors()))
		if len(o.GetSectors()) == 1 {
			where = "1 sector"
		}
		if len(o.GetSectors()) == 0 {
			where = fmt.Sprintf("%d named recipients", len(o.GetRecipients()))
		}
		fmt.Fprintf(g.stdout, "routed to %s: %d organisations (id %s, tlp %s)\n", where, o.GetOrganisations(), id, res.TLP)
		printWarnings(g, res)
	case tocsinv1.OutcomeState_OUTCOME_STATE_DUPLICATE:
		fmt.Fprintf(g.stdout, "duplicate of %s: not broadcast again; counted as a sighting of it (id %s)\n", o.GetDuplicateOf(), id)
	case tocsinv1.OutcomeState_OUTCOME_STATE_HELD:
		fmt.Fprintf(g.stdout, "held: you are past your flash cap; an operator has been alarmed (id %s)\n", id)
		return &exitError{ExitRejected, fmt.Errorf("alert %s held by the flash cap", id)}
	default:
		printRejected(g, id, res)
		return &exitError{ExitRejected, fmt.Errorf("alert %s rejected: %s (%s)", id, res.Rejections[0].Code, problems(res.ProblemCount))}
	}
	return nil
}

// shownProblems is how many problems a rejection prints as text; --json
// prints all that the rejection carries.
const shownProblems = 10

// printRejected prints a rejection: how many problems there were and the
// first shownProblems of them.
func printRejected(g *globals, id string, res publishResult) {
	fmt.Fprintf(g.stdout, "rejected %s: %s\n", id, problems(res.ProblemCount))
	for _, p := range res.Rejections[:min(len(res.Rejections), shownProblems)] {
		where := strings.TrimSpace(p.ObjectID + " " + p.Path)
		if where != "" {
			where = " (" + where + ")"
		}
		fmt.Fprintf(g.stdout, "  %s: %s%s\n", p.Code, p.Message, where)
	}
	if more := res.ProblemCount - min(len(res.Rejections), shownProblems); more > 0 {
		fmt.Fprintf(g.stdout, "  ... and %d more (--json prints the first %d); fix these and publish again\n", more, len(res.Rejections))
	}
}

// problems says "1 problem" or "7000 problems".
func problems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}

// defaultTitle names an alert published without --title after what it
// carries: the bundle's first indicator's name, else its first named
// object's, else its TLP ("TLP:RED alert"), never a bare "alert".
func defaultTitle(a *tocsinv1.Alert) string {
	var b struct {
		Objects []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"objects"`
	}
	if json.Unmarshal(a.GetStixBundle(), &b) == nil {
		for _, want := range []string{"indicator", ""} {
			for _, o := range b.Objects {
				if name := strings.TrimSpace(o.Name); name != "" && (want == "" || o.Type == want) {
					return name
				}
			}
		}
	}
	if l, err := tlp.FromProto(a.GetTlp()); err == nil {
		return l.Label() + " alert"
	}
	return "untitled alert"
}
