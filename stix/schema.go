package stix

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaSet is the compiled official schemas and what the validator learns
// from them.
type schemaSet struct {
	// byType is the schema of each STIX type that has one.
	byType map[string]*jsonschema.Schema
	// sdoCore and scoCore are core.json and cyber-observable-core.json, for
	// custom objects.
	sdoCore, scoCore *jsonschema.Schema
	// props lists, per type, the properties its schema defines (true when the
	// property is a timestamp). Custom types use the "" entry (core.json).
	props map[string]map[string]bool
}

// typeDirs are the folders whose files are each the schema of one type.
var typeDirs = map[string]bool{"sdos": true, "sros": true, "observables": true}

// typesInCommon are the files of common/ that are the schema of a type.
var typesInCommon = map[string]bool{"marking-definition": true, "language-content": true, "extension-definition": true}

// offline is the schema loader: every schema is registered up front, so any
// other URL is refused rather than fetched over the network.
type offline struct{}

func (offline) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema %s is not one of the embedded STIX schemas, and nothing is fetched over the network", u)
}

// registry is every schema file of a tree, registered under its $id.
type registry struct {
	compiler *jsonschema.Compiler
	docs     map[string]any    // by $id
	typeIDs  map[string]string // STIX type -> $id of its schema
}

func newRegistry(fsys fs.FS) (*registry, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(offline{})
	reg := &registry{compiler: c, docs: map[string]any{}, typeIDs: map[string]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("schema %s: %w", p, err)
		}
		m, _ := doc.(map[string]any)
		id, _ := m["$id"].(string)
		if id == "" {
			return fmt.Errorf("schema %s has no $id", p)
		}
		if err := c.AddResource(id, doc); err != nil {
			return fmt.Errorf("schema %s: %w", p, err)
		}
		reg.docs[id] = doc
		dir, name := path.Dir(p), strings.TrimSuffix(path.Base(p), ".json")
		if typeDirs[dir] || dir == "common" && typesInCommon[name] {
			reg.typeIDs[name] = id
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the embedded stix schemas: %w", err)
	}
	return reg, nil
}

func loadSchemas(fsys fs.FS) (*schemaSet, error) {
	reg, err := newRegistry(fsys)
	if err != nil {
		return nil, err
	}
	c, docs, typeIDs := reg.compiler, reg.docs, reg.typeIDs
	s := &schemaSet{byType: map[string]*jsonschema.Schema{}, props: map[string]map[string]bool{}}
	for typ, id := range typeIDs {
		if s.byType[typ], err = c.Compile(id); err != nil {
			return nil, fmt.Errorf("compiling the stix schema of %s: %w", typ, err)
		}
		s.props[typ] = definedProps(docs, id)
	}
	coreID, scoID := commonID(docs, "core.json"), commonID(docs, "cyber-observable-core.json")
	if coreID == "" || scoID == "" {
		return nil, errors.New("the embedded stix schemas lack common/core.json or common/cyber-observable-core.json: run 'make schemas'")
	}
	if s.sdoCore, err = c.Compile(coreID); err != nil {
		return nil, fmt.Errorf("compiling core.json: %w", err)
	}
	if s.scoCore, err = c.Compile(scoID); err != nil {
		return nil, fmt.Errorf("compiling cyber-observable-core.json: %w", err)
	}
	s.props[""] = definedProps(docs, coreID)
	for k, v := range definedProps(docs, scoID) {
		s.props[""][k] = s.props[""][k] || v
	}
	return s, nil
}

// commonID finds the $id of common/<file>.
func commonID(docs map[string]any, file string) string {
	for id := range docs {
		if strings.HasSuffix(id, "/common/"+file) {
			return id
		}
	}
	return ""
}

// definedProps walks a type's schema (through allOf, anyOf, oneOf and $ref,
// not into property values) and lists the properties it defines, marking
// those whose schema is a timestamp.
func definedProps(docs map[string]any, id string) map[string]bool {
	props := map[string]bool{}
	seen := map[string]bool{}
	var walk func(base string, node any)
	walk = func(base string, node any) {
		m, ok := node.(map[string]any)
		if !ok {
			return
		}
		if ref, ok := m["$ref"].(string); ok {
			target, doc := resolveRef(docs, base, ref)
			if target != "" && !seen[target] {
				seen[target] = true
				walk(strings.SplitN(target, "#", 2)[0], doc)
			}
		}
		if p, ok := m["properties"].(map[string]any); ok {
			for name, sub := range p {
				props[name] = props[name] || isTimestampSchema(sub)
			}
		}
		for _, kw := range [...]string{"allOf", "anyOf", "oneOf"} {
			items, _ := m[kw].([]any)
			for _, it := range items {
				walk(base, it)
			}
		}
	}
	walk(id, docs[id])
	return props
}

// resolveRef resolves a $ref against the document it appears in, returning
// the absolute reference and the schema it points at.
func resolveRef(docs map[string]any, base, ref string) (string, any) {
	b, err := url.Parse(base)
	if err != nil {
		return "", nil
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", nil
	}
	abs := b.ResolveReference(r)
	frag := abs.Fragment
	abs.Fragment = ""
	node := docs[abs.String()]
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		m, _ := node.(map[string]any)
		node = m[tok]
	}
	if node == nil {
		return "", nil
	}
	return abs.String() + "#" + frag, node
}

// isTimestampSchema reports whether a property schema is timestamp.json,
// directly or in an allOf.
func isTimestampSchema(node any) bool {
	m, _ := node.(map[string]any)
	if ref, _ := m["$ref"].(string); strings.HasSuffix(ref, "/timestamp.json") {
		return true
	}
	items, _ := m["allOf"].([]any)
	for _, it := range items {
		if isTimestampSchema(it) {
			return true
		}
	}
	return false
}
