package stix

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tocsin-project/tocsin/stixschemas"
	"github.com/tocsin-project/tocsin/tlp"
)

// Validator checks STIX 2.1 bundles. It is safe for concurrent use.
type Validator struct {
	opts         Options
	schemas      *schemaSet
	fast         map[string]*shape
	patternTypes map[string]bool
}

// New returns a Validator of the embedded schemas, compiled once per process
// and shared by every Validator. Without them (a binary built without 'make
// schemas') the error wraps stixschemas.ErrSchemasMissing.
func New(opts Options) (*Validator, error) {
	return build(opts, stixschemas.FS(), embeddedSchemas)
}

// embeddedSchemas compiles the embedded schemas on first use.
var embeddedSchemas = sync.OnceValues(func() (*schemaSet, error) { return loadSchemas(stixschemas.FS()) })

// build makes a Validator whose schemas come from load, after checking that
// fsys has them.
func build(opts Options, fsys fs.FS, load func() (*schemaSet, error)) (*Validator, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := fs.Stat(fsys, "common/core.json"); err != nil {
		return nil, fmt.Errorf("stix validator: %w", stixschemas.ErrSchemasMissing)
	}
	schemas, err := load()
	if err != nil {
		return nil, fmt.Errorf("stix validator: %w", err)
	}
	return &Validator{opts: opts, schemas: schemas, fast: fastShapes(), patternTypes: setOf(opts.PatternTypes...)}, nil
}

// ValidateBundle checks a JSON-encoded bundle. Invalid input gives a Result
// with Problems; the error is only for an internal failure.
func (v *Validator) ValidateBundle(data []byte) (*Result, error) {
	return read(data, v.opts, v.object)
}

// Markings reads a bundle's objects and TLP markings as ValidateBundle
// does, by the same parser and limits, without checking the objects
// against the schemas (so it compiles none): its Problems are only the
// bundle's own (invalid-bundle, oversized, invalid-spec-version, an item
// of objects that is not an object) and unknown-marking. An agent, which
// receives only bundles a router validated, needs no more to know the
// TLP of what it hands its sinks.
func Markings(data []byte, opts Options) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return read(data, opts, markingsOnly)
}

// read decodes a bundle within opts' limits, checks its envelope, gives
// each object to object and resolves the markings.
func read(data []byte, opts Options, object func(r *Result, i int, raw any, defs tlp.Definitions) error) (*Result, error) {
	r := &Result{TLP: tlp.Clear}
	if len(data) > opts.MaxBundleBytes {
		r.add(CodeOversized, "", "", fmt.Sprintf("the bundle is %d bytes, over the limit of %d: split it into smaller bundles", len(data), opts.MaxBundleBytes))
		return r, nil
	}
	if !utf8.Valid(data) {
		// JSON text is UTF-8 (RFC 8259 section 8.1); a member's SIEM must
		// never be handed bytes that are not.
		r.add(CodeInvalidBundle, "", "", "the bundle is not valid UTF-8: encode it as UTF-8 JSON")
		return r, nil
	}
	doc, err := decode(data, opts.MaxDepth)
	if err != nil {
		var de *decodeError
		if !errors.As(err, &de) {
			return nil, fmt.Errorf("decoding a bundle: %w", err)
		}
		if errors.Is(err, errTooDeep) {
			r.add(CodeOversized, "", de.path, fmt.Sprintf("JSON nested deeper than %d levels: flatten it", opts.MaxDepth))
		} else {
			r.add(CodeInvalidBundle, "", de.path, fmt.Sprintf("%v: send one JSON-encoded STIX 2.1 bundle", de.err))
		}
		return r, nil
	}
	objects := envelope(r, doc, opts.MaxObjects)
	if objects == nil {
		return r, nil
	}
	defs := tlp.Definitions{}
	for i, raw := range objects {
		if err := object(r, i, raw, defs); err != nil {
			return nil, err
		}
	}
	checkMarkings(r, defs)
	return r, nil
}

// envelope checks the bundle itself and returns its objects, at most
// maxObjects, or nil when the envelope is wrong.
func envelope(r *Result, doc any, maxObjects int) []any {
	b, ok := doc.(map[string]any)
	if !ok {
		r.add(CodeInvalidBundle, "", "", "the payload is not a JSON object: send a STIX 2.1 bundle ({\"type\": \"bundle\", ...})")
		return nil
	}
	if t, _ := b["type"].(string); t != "bundle" {
		r.add(CodeInvalidBundle, "", "/type", fmt.Sprintf("type is %s, not \"bundle\": wrap the objects in a STIX 2.1 bundle", describeValue(b["type"])))
	}
	if id, _ := b["id"].(string); idType(id) != "bundle" {
		r.add(CodeInvalidBundle, "", "/id", fmt.Sprintf("id is %s: give the bundle an id \"bundle--<uuid>\"", describeValue(b["id"])))
	}
	if sv, ok := b["spec_version"]; ok && sv != "2.1" {
		// A STIX 2.1 bundle has no spec_version; a 2.0 bundle has "2.0".
		r.add(CodeInvalidSpecVersion, "", "/spec_version", fmt.Sprintf("the bundle's spec_version is %s: send a STIX 2.1 bundle (with no spec_version)", describeValue(sv)))
	}
	objects, ok := b["objects"].([]any)
	switch {
	case !ok || len(objects) == 0:
		r.add(CodeInvalidBundle, "", "/objects", "the bundle has no objects: put the STIX objects in a non-empty \"objects\" array")
	case len(objects) > maxObjects:
		r.add(CodeOversized, "", "/objects", fmt.Sprintf("the bundle has %d objects, over the limit of %d: split it", len(objects), maxObjects))
	case len(r.Problems) == 0:
		return objects
	}
	return nil
}

// markingsOnly records one object of the bundle and, for a marking
// definition, what it defines.
func markingsOnly(r *Result, i int, raw any, defs tlp.Definitions) error {
	recordObject(r, i, raw, defs)
	return nil
}

// recordObject records one object of the bundle, and a marking definition's
// definition in defs; ok is false (and a problem recorded) when the item
// is not a JSON object.
func recordObject(r *Result, i int, raw any, defs tlp.Definitions) (obj map[string]any, o Object, ok bool) {
	obj, ok = raw.(map[string]any)
	if !ok {
		r.add(CodeInvalidBundle, "", "/objects/"+strconv.Itoa(i), "every item of objects must be a JSON object (a STIX object)")
		return nil, o, false
	}
	o = describeObject(i, obj)
	r.Objects = append(r.Objects, o)
	if o.Type == "marking-definition" && o.ID != "" {
		defs[o.ID] = markingDefinition(obj)
	}
	return obj, o, true
}

// object checks one object of the bundle.
func (v *Validator) object(r *Result, i int, raw any, defs tlp.Definitions) error {
	obj, o, ok := recordObject(r, i, raw, defs)
	if !ok {
		return nil
	}
	base := "/objects/" + strconv.Itoa(i)
	before := len(r.Problems)
	sch, propsKey, custom := v.schemaFor(o.Type, obj)
	if custom && !v.customType(r, base, o) {
		return nil
	}
	if err := v.validateSchema(o.Type, sch, obj); err != nil {
		probs, err := schemaProblems(err, base, o.ID)
		if err != nil {
			return err
		}
		r.Problems = append(r.Problems, probs...)
	}
	v.customProperties(r, base, o.ID, obj, v.schemas.props[propsKey], o.Type != "marking-definition")
	if len(r.Problems) > before {
		return nil
	}
	checkOwnID(r, base, o)
	checkSpecVersion(r, base, o.ID, obj)
	checkTimes(r, base, o.ID, obj, v.schemas.props[propsKey])
	checkLang(r, base, o.ID, obj)
	checkSelectors(r, base, o.ID, obj)
	checkReferences(r, base, o.Type, o.ID, obj)
	if o.Type == "indicator" {
		v.checkPattern(r, base, o.ID, obj)
	}
	return nil
}

// schemaFor picks the schema of an object: its type's, or for a custom type
// core.json (when it has "created", like an SDO) or
// cyber-observable-core.json. propsKey names its entry in schemas.props.
func (v *Validator) schemaFor(typ string, obj map[string]any) (sch *jsonschema.Schema, propsKey string, custom bool) {
	if s, ok := v.schemas.byType[typ]; ok {
		return s, typ, false
	}
	if _, sdoLike := obj["created"]; sdoLike || typ == "" {
		// An object without a string type gets core.json, which says so.
		return v.schemas.sdoCore, "", typ != ""
	}
	return v.schemas.scoCore, "", true
}

// validateSchema returns the schema's verdict on obj (nil when valid), from
// the fast path when it is sure of a pass.
func (v *Validator) validateSchema(typ string, sch *jsonschema.Schema, obj map[string]any) error {
	if fastVerdict(v.fast, typ, obj) == pass {
		return nil
	}
	return sch.Validate(obj)
}

// fastVerdict is the fast path's verdict on an object of type typ; unsure
// for the types it does not model.
func fastVerdict(shapes map[string]*shape, typ string, obj map[string]any) verdict {
	if typ == "marking-definition" {
		return decideMarking(obj)
	}
	if s, ok := shapes[typ]; ok {
		return s.decide(obj)
	}
	return unsure
}

// describeObject collects what Result reports about an object.
func describeObject(i int, obj map[string]any) Object {
	o := Object{Index: i}
	o.ID, _ = obj["id"].(string)
	o.Type, _ = obj["type"].(string)
	o.SpecVersion, _ = obj["spec_version"].(string)
	o.ObjectMarkingRefs = stringsOf(obj["object_marking_refs"])
	gms, _ := obj["granular_markings"].([]any)
	for _, g := range gms {
		gm, _ := g.(map[string]any)
		if ref, ok := gm["marking_ref"].(string); ok {
			o.GranularMarkings = append(o.GranularMarkings, GranularMarking{MarkingRef: ref, Selectors: stringsOf(gm["selectors"])})
		}
	}
	return o
}

// stringsOf returns the strings of a JSON array.
func stringsOf(v any) []string {
	items, _ := v.([]any)
	var out []string
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// describeValue renders a JSON value for a message.
func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "missing"
	case string:
		return strconv.Quote(v)
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprint(v)
}
