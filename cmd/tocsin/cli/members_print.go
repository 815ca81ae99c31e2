package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// memberJSON is a member as members list, show and add print it with --json.
type memberJSON struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Roles        []string         `json:"roles"`
	Sectors      []string         `json:"sectors"`
	Region       string           `json:"region,omitempty"`
	HomeRegion   string           `json:"home_region,omitempty"`
	Contact      string           `json:"contact,omitempty"`
	Namespace    string           `json:"publisher_namespace,omitempty"`
	Status       string           `json:"status"`
	CreatedAt    string           `json:"created_at,omitempty"`
	RevokedAt    string           `json:"revoked_at,omitempty"`
	Keys         []keyJSON        `json:"keys"`
	Capabilities []capabilityJSON `json:"capabilities,omitempty"`
	Creds        string           `json:"creds,omitempty"`
}

type keyJSON struct {
	PublicKey string `json:"public_key"`
	NotBefore string `json:"not_before,omitempty"`
	NotAfter  string `json:"not_after,omitempty"`
}

type capabilityJSON struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Capacity uint32   `json:"capacity"`
	Regions  []string `json:"regions,omitempty"`
}

func toJSON(m *tocsinv1.Member) memberJSON {
	j := memberJSON{ID: m.GetId(), Name: m.GetName(), Roles: roleNames(m), Sectors: m.GetSectors(), Region: m.GetRegion(), HomeRegion: m.GetHomeRegion(),
		Contact: m.GetContact(), Namespace: m.GetPublisherNamespace(), Status: memberStatus(m), CreatedAt: stamp(m.GetCreatedAt()), RevokedAt: stamp(m.GetRevokedAt()), Keys: []keyJSON{}}
	if j.Sectors == nil {
		j.Sectors = []string{}
	}
	for _, k := range m.GetKeys() {
		j.Keys = append(j.Keys, keyJSON{PublicKey: k.GetPublicKey(), NotBefore: stamp(k.GetNotBefore()), NotAfter: stamp(k.GetNotAfter())})
	}
	for _, c := range m.GetCapabilities() {
		j.Capabilities = append(j.Capabilities, capabilityJSON{ID: c.GetId(), Type: c.GetType(), Capacity: c.GetCapacity(), Regions: c.GetRegions()})
	}
	return j
}

func stamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

func roleNames(m *tocsinv1.Member) []string {
	out := []string{}
	for _, r := range m.GetRoles() {
		out = append(out, members.RoleName(r))
	}
	return out
}

func memberStatus(m *tocsinv1.Member) string {
	if m.GetRevokedAt() != nil {
		return "revoked"
	}
	return "active"
}

// describe is a member's roles, sectors and region on one line.
func describe(m *tocsinv1.Member) string {
	d := "roles " + strings.Join(roleNames(m), ",")
	if len(m.GetSectors()) > 0 {
		d += ", sectors " + strings.Join(m.GetSectors(), ",")
	}
	if m.GetRegion() != "" {
		d += ", region " + m.GetRegion()
	}
	if m.GetHomeRegion() != "" {
		d += ", home region " + m.GetHomeRegion()
	}
	return d
}

func printMembers(w io.Writer, all []*tocsinv1.Member) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLES\tSECTORS\tREGION\tSTATUS")
	for _, m := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.GetId(), m.GetName(), strings.Join(roleNames(m), ","),
			strings.Join(m.GetSectors(), ","), m.GetRegion(), memberStatus(m))
	}
	tw.Flush()
}

func printMember(w io.Writer, m *tocsinv1.Member) {
	j := toJSON(m)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range [][2]string{
		{"id", j.ID}, {"name", j.Name}, {"roles", strings.Join(j.Roles, ", ")}, {"sectors", strings.Join(j.Sectors, ", ")},
		{"region", j.Region}, {"home region", j.HomeRegion}, {"contact", j.Contact}, {"publisher namespace", j.Namespace}, {"status", j.Status}, {"created", j.CreatedAt}, {"revoked", j.RevokedAt},
	} {
		if l[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", l[0], l[1])
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nkeys:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PUBLIC KEY\tVALID FROM\tUNTIL")
	for _, k := range j.Keys {
		until := k.NotAfter
		if until == "" {
			until = "(current)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", k.PublicKey, k.NotBefore, until)
	}
	tw.Flush()
	if len(j.Capabilities) > 0 {
		fmt.Fprintln(w, "\ncapabilities:")
		for _, c := range j.Capabilities {
			fmt.Fprintf(w, "  %s: %s, capacity %d, regions %s\n", c.ID, c.Type, c.Capacity, strings.Join(c.Regions, ","))
		}
	}
}
