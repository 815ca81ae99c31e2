package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/csaf"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

func init() { register(newAdvisoryCmd) }

func newAdvisoryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "advisory", Short: "Broadcast signed advisories to sectors (liaison)"}
	cmd.AddCommand(newAdvisoryPublishCmd(g))
	return cmd
}

// advisoryFlags are the fields of an advisory.
type advisoryFlags struct {
	file, lane, tlp, title, action string
	sectors                        []string
	exercise, wait                 bool
}

func newAdvisoryPublishCmd(g *globals) *cobra.Command {
	return advisoryPublishCmd(g, "publish --file advisory.md|bundle.json|csaf.json --tlp clear|green|amber [--sectors ...] [--lane ...]",
		"Publish an advisory, signed with your key (liaison only)",
		`Publish an advisory to sectors (all when --sectors is empty; amber needs
sectors). A .md or .txt file is its text; a .json file is a CSAF 2.0
document, sent as published (as 'tocsin csaf publish' does), or else a STIX
2.1 bundle it refers to. Only the liaison may, and a vendor its own CSAF
documents (under its registered publisher namespace): the cluster refuses
anyone else's.`)
}

// advisoryPublishCmd is 'tocsin advisory publish' and, by another name and
// help, 'tocsin csaf publish'.
func advisoryPublishCmd(g *globals, use, short, long string) *cobra.Command {
	var f advisoryFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.build()
			if err != nil {
				return err
			}
			return sendAdvisory(cmd.Context(), g, a, f.wait)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.file, "file", "", "the advisory: Markdown or text (.md, .txt), a CSAF 2.0 document or a STIX 2.1 bundle (.json)")
	fl.StringSliceVar(&f.sectors, "sectors", nil, "sectors addressed (comma-separated; none = all)")
	fl.StringVar(&f.lane, "lane", "urgent", "lane: flash, urgent, routine or info")
	fl.StringVar(&f.tlp, "tlp", "", "TLP: clear, green or amber (default for a CSAF document: its TLP, which --tlp may only make more restrictive)")
	fl.StringVar(&f.title, "title", "", "one-line summary (default: the first line of a .md or .txt file, a CSAF document's title)")
	fl.StringVar(&f.action, "action", "", "what recipients are asked to do")
	fl.BoolVar(&f.exercise, "exercise", false, "mark as an exercise (shown as such everywhere)")
	fl.BoolVar(&f.wait, "wait", false, "wait for the router's outcome: exit 0 routed, 2 rejected")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// build turns the flags into an Advisory.
func (f *advisoryFlags) build() (*tocsinv1.Advisory, error) {
	a := &tocsinv1.Advisory{Title: f.title, Sectors: f.sectors, RecommendedAction: f.action, Exercise: f.exercise}
	var err error
	if a.Lane, err = parseLane("--lane", f.lane); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.file)
	if err != nil {
		return nil, usageErr("--file: %v", err)
	}
	ext := strings.ToLower(filepath.Ext(f.file))
	doc, isCSAF := csaf.ReadHeader(data)
	isCSAF = isCSAF && ext == ".json"
	var level tlp.Level
	if isCSAF {
		level, err = csafTLP(doc, f.tlp)
	} else {
		level, err = parseTLP(f.tlp)
	}
	if err != nil {
		return nil, err
	}
	if !level.AllowsSectorSubjects() {
		return nil, usageErr("--tlp %s: advisories go to sectors, so clear, green or amber; send %s material as an alert to named recipients", level, level)
	}
	if err := tlp.CheckAddressing(level, f.sectors, nil); err != nil {
		return nil, usageErr("--sectors: %v", err)
	}
	a.Tlp = level.Proto()
	switch {
	case isCSAF:
		a.CsafDocument = data
		if a.Title == "" {
			a.Title = doc.Title
		}
		a.Body = doc.Summary
	case ext == ".md" || ext == ".markdown" || ext == ".txt":
		a.Body = string(data)
		if a.Title == "" {
			a.Title = firstLine(a.Body)
		}
	case ext == ".json":
		if !json.Valid(data) {
			return nil, usageErr("--file %s is not JSON: a STIX 2.1 bundle is expected", f.file)
		}
		a.StixBundle = data
	default:
		return nil, usageErr("--file %s: use a .md or .txt file (the text), a .json CSAF 2.0 document or a .json STIX 2.1 bundle", f.file)
	}
	if a.Title == "" {
		return nil, usageErr("--title is required: the file gives none")
	}
	return a, nil
}

// csafTLP is the TLP a CSAF document is sent with: the document's
// (document.distribution.tlp, WHITE read as CLEAR), or flag when it gives
// none; flag may only make the document's more restrictive.
func csafTLP(doc csaf.Header, flag string) (tlp.Level, error) {
	own, has, err := doc.Level()
	if err != nil {
		return 0, usageErr("--file: %v", err)
	}
	if !has {
		if flag == "" {
			return 0, usageErr("--tlp is required: the CSAF document carries no document.distribution.tlp")
		}
		return parseTLP(flag)
	}
	if flag == "" {
		return own, nil
	}
	level, err := parseTLP(flag)
	if err != nil {
		return 0, err
	}
	if level < own {
		return 0, usageErr("--tlp %s is less restrictive than the CSAF document's TLP:%s (%s): leave --tlp out or give %s or more restrictive", level, doc.TLP, own, own)
	}
	return level, nil
}

// firstLine is the first non-empty line of s, without Markdown heading marks.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(strings.TrimLeft(l, "# ")); l != "" {
			return l
		}
	}
	return ""
}

// parseTLP reads a --tlp flag.
func parseTLP(s string) (tlp.Level, error) {
	if s == "" {
		return 0, usageErr("--tlp is required: clear, green, amber, amber+strict or red")
	}
	level, err := tlp.Parse(s)
	if err != nil {
		return 0, usageErr("--tlp: %v", err)
	}
	return level, nil
}

// sendAdvisory publishes a and prints the router's outcome. The server
// itself refuses the publish of anyone but a liaison (a permissions
// violation, which never reaches the router): that is printed as the
// rejection not-permitted.
func sendAdvisory(parent context.Context, g *globals, a *tocsinv1.Advisory, wait bool) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	ctx, stop := context.WithTimeout(ctx, g.timeout)
	defer stop()
	refused := nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), "tocsin.ingest.advisory.") {
			cancel(err)
		}
	})
	c, err := g.connectClient(ctx, "tocsin advisory", refused)
	if err != nil {
		return err
	}
	defer c.Close()
	env, err := c.Publish(ctx, tocsinv1.Kind_KIND_ADVISORY, a)
	if cause := context.Cause(ctx); errors.Is(cause, nats.ErrPermissionViolation) {
		return printRefused(g, env.GetId(), c.Member(), cause)
	}
	if err != nil {
		return err
	}
	if !wait {
		if g.json {
			return g.printJSON(publishResult{ID: env.GetId(), Outcome: "published", Rejections: []problemResult{}})
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

// printRefused prints the server's refusal of a member's advisory as the
// rejection not-permitted (exit 2).
func printRefused(g *globals, id, member string, cause error) error {
	code := codes.Name(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED)
	msg := fmt.Sprintf("only the liaison may publish advisories, and vendors their own CSAF advisories; the cluster refused %s's (%v)", member, cause)
	if g.json {
		if err := g.printJSON(publishResult{ID: id, Outcome: "rejected", Rejections: []problemResult{{Code: code, Message: msg}}}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "rejected %s:\n  %s: %s\n", id, code, msg)
	}
	return rejectedErr(fmt.Errorf("advisory %s rejected: %s", id, code))
}
