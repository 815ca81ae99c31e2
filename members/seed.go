package members

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/internal/days"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// demoSeed is the demo cast, in the seed format.
//
//go:embed demo.yaml
var demoSeed []byte

// DemoSeed returns the demo cast of the St. Mary's scenario (demo.yaml),
// validated against DefaultVocabulary. The members have no keys yet.
func DemoSeed() ([]*tocsinv1.Member, error) {
	return ParseSeed("demo.yaml", demoSeed, DefaultVocabulary())
}

// LoadSeed reads a seed file, YAML (see the package documentation for the
// format) or CSV by its .csv extension (ParseSeedCSV), and returns its
// members, each validated against vocab. Errors
// name the file, the line and the member; all of them are reported.
func LoadSeed(path string, vocab Vocabulary) ([]*tocsinv1.Member, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read member seed: %w", err)
	}
	if isCSV(path) {
		return ParseSeedCSV(path, strings.NewReader(string(data)), vocab)
	}
	return ParseSeed(path, data, vocab)
}

// ParseSeed parses seed data as LoadSeed does; name (a file name) starts
// every error message.
func ParseSeed(name string, data []byte, vocab Vocabulary) ([]*tocsinv1.Member, error) {
	if err := vocab.Validate(); err != nil {
		return nil, err
	}
	root, err := seedRoot(name, data)
	if err != nil {
		return nil, err
	}
	var (
		out  []*tocsinv1.Member
		errs []error
		seen = map[string]int{} // id -> line of its first member
	)
	for _, item := range root.Content {
		at := func(line int, err error) error { return quiet(ErrInvalid, "%s:%d: %w", name, line, err) }
		m, problems := seedMember(item, vocab)
		for _, p := range problems {
			errs = append(errs, at(item.Line, p))
		}
		if m == nil {
			continue
		}
		if first, dup := seen[m.Id]; dup && m.Id != "" {
			errs = append(errs, at(item.Line, fmt.Errorf("%s: id already used by the member at line %d; ids must be unique", who(m), first)))
			continue
		}
		seen[m.Id] = item.Line
		out = append(out, m)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// seedRoot decodes data into its YAML node tree and returns the top-level
// list of members.
func seedRoot(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, quiet(ErrInvalid, "%s: empty; a member seed is a YAML list of members (\"- id: st-mary ...\")", name)
	} else if err != nil {
		return nil, quiet(ErrInvalid, "%s: not valid YAML: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, quiet(ErrInvalid, "%s:%d: a second YAML document; put every member in one list", name, extra.Line)
	}
	root := doc.Content[0]
	if root.Kind != yaml.SequenceNode {
		return nil, quiet(ErrInvalid, "%s:%d: a member seed is a YAML list of members (\"- id: st-mary ...\"), not a %s", name, root.Line, nodeKind(root))
	}
	return root, nil
}

// seedMember converts one list item to a member record. It returns nil when
// the item cannot be decoded, and every problem found.
func seedMember(item *yaml.Node, vocab Vocabulary) (*tocsinv1.Member, []error) {
	var sm seedRecord
	if item.Kind != yaml.MappingNode {
		return nil, []error{fmt.Errorf("a member is a mapping (id: ..., name: ...), not a %s", nodeKind(item))}
	}
	label := "member " + idLabel(item)
	if err := checkFields(item, reflect.TypeFor[seedRecord](), label); err != nil {
		return nil, []error{err}
	}
	if err := item.Decode(&sm); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, []error{fmt.Errorf("%s: %s", label, strings.Join(te.Errors, "; "))}
		}
		return nil, []error{fmt.Errorf("%s: %w", label, err)}
	}
	m, problems := sm.member()
	return m, append(problems, validate(m, vocab)...)
}

// idLabel returns the quoted id of a member mapping, or "with no id".
func idLabel(item *yaml.Node) string {
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i].Value == "id" && item.Content[i+1].Value != "" {
			return fmt.Sprintf("%q", item.Content[i+1].Value)
		}
	}
	return "with no id"
}

// nodeKind names a YAML node's kind for error messages.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	default:
		return "single value"
	}
}

// checkFields walks node alongside the struct type t (following lists and
// nested structs) and reports the first mapping key that t has no yaml
// field for, with its line and the known field names.
func checkFields(node *yaml.Node, t reflect.Type, label string) error {
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	switch {
	case t.Kind() == reflect.Slice && node.Kind == yaml.SequenceNode:
		for _, n := range node.Content {
			if err := checkFields(n, t.Elem(), label); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Struct && node.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		var names []string
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			fields[name] = f.Type
			names = append(names, name)
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k := node.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("%s: unknown field %q at line %d%s; known: %s",
					label, k.Value, k.Line, didYouMean(k.Value, names), strings.Join(names, ", "))
			}
			if err := checkFields(node.Content[i+1], ft, label); err != nil {
				return err
			}
		}
	}
	return nil
}

// seedRecord is one member of a seed file.
type seedRecord struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Sectors []string `yaml:"sectors"`
	Region  string   `yaml:"region"`
	// HomeRegion is the region of a supercluster of stream sets whose
	// streams the member publishes into and reads from (docs/REGIONS.md).
	HomeRegion string   `yaml:"home_region"`
	Roles      []string `yaml:"roles"`
	Contact    string   `yaml:"contact"`
	// PublisherNamespace is a vendor's CSAF publisher namespace.
	PublisherNamespace string           `yaml:"publisher_namespace"`
	Capabilities       []seedCapability `yaml:"capabilities"`
	Keys               []seedKey        `yaml:"keys"`
}

// seedCapability is one capability of a responder in a seed file.
type seedCapability struct {
	ID       string   `yaml:"id"`
	Type     string   `yaml:"type"`
	Capacity int64    `yaml:"capacity"`
	Regions  []string `yaml:"regions"`
	LeadTime string   `yaml:"lead_time"`
	Contact  string   `yaml:"contact"`
}

// seedKey is one signing key in a seed file.
type seedKey struct {
	PublicKey string `yaml:"public_key"`
	NotBefore string `yaml:"not_before"`
	NotAfter  string `yaml:"not_after"`
}

// member converts s to a record, with the problems only the seed format
// can have (role names, times and durations as text); Validate checks
// the rest.
func (s seedRecord) member() (*tocsinv1.Member, []error) {
	m := &tocsinv1.Member{Id: s.ID, Name: s.Name, Sectors: s.Sectors, Region: s.Region, HomeRegion: s.HomeRegion, Contact: s.Contact, PublisherNamespace: s.PublisherNamespace}
	v := &validator{who: who(m)}
	for i, name := range s.Roles {
		r, err := ParseRole(name)
		if err != nil {
			v.addf(fmt.Sprintf("roles[%d]", i), "%w", err)
			continue
		}
		m.Roles = append(m.Roles, r)
	}
	for i, c := range s.Capabilities {
		field := fmt.Sprintf("capabilities[%d]", i)
		capa := &tocsinv1.AidCapability{Id: c.ID, Type: c.Type, Regions: c.Regions, Contact: c.Contact}
		if capa.Id == "" {
			capa.Id = s.ID + "/" + c.Type
		}
		if c.Capacity > math.MaxUint32 {
			v.addf(field+".capacity", "%d is more than %d", c.Capacity, uint32(math.MaxUint32))
		} else if c.Capacity > 0 {
			capa.Capacity = uint32(c.Capacity)
		}
		if c.LeadTime != "" {
			d, err := days.Parse(c.LeadTime)
			if err != nil {
				v.addf(field+".lead_time", "%q is not a duration; write it like \"4h\", \"90m\" or \"2d\"", c.LeadTime)
			} else {
				capa.LeadTime = durationpb.New(d)
			}
		}
		m.Capabilities = append(m.Capabilities, capa)
	}
	for i, k := range s.Keys {
		key := &tocsinv1.SigningKey{PublicKey: k.PublicKey}
		key.NotBefore = v.seedTime(fmt.Sprintf("keys[%d].not_before", i), k.NotBefore)
		key.NotAfter = v.seedTime(fmt.Sprintf("keys[%d].not_after", i), k.NotAfter)
		m.Keys = append(m.Keys, key)
	}
	return m, v.errs
}

// seedTime parses an optional RFC 3339 time; "" gives nil.
func (v *validator) seedTime(field, s string) *timestamppb.Timestamp {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.addf(field, "%q is not an RFC 3339 time; write it like 2025-01-01T00:00:00Z", s)
		return nil
	}
	return timestamppb.New(t)
}
