package members

import (
	"encoding/csv"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// csvColumns are the columns of a CSV member list: a header row names
// them, in any order; id, name, sectors and region are required; lists
// (sectors, roles) are separated by ";" or spaces; empty roles are
// "member"; publisher_namespace is a vendor's (optional column).
var csvColumns = []string{"id", "name", "sectors", "region", "roles", "contact", "publisher_namespace"}

// isCSV reports whether a seed file is CSV (by its extension).
func isCSV(name string) bool { return strings.EqualFold(filepath.Ext(name), ".csv") }

// ParseSeedCSV parses a CSV member list (header: id,name,sectors,region,
// roles,contact, and publisher_namespace for vendors) into member records, with the checks ParseSeed makes;
// name (a file name) starts every error message.
func ParseSeedCSV(name string, r io.Reader, vocab Vocabulary) ([]*tocsinv1.Member, error) {
	if err := vocab.Validate(); err != nil {
		return nil, err
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, quiet(ErrInvalid, "%s: empty; a CSV member list starts with the header %s", name, strings.Join(csvColumns, ","))
	} else if err != nil {
		return nil, quiet(ErrInvalid, "%s: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(csvColumns, h) {
			return nil, quiet(ErrInvalid, "%s:1: unknown column %q%s; known: %s", name, h, didYouMean(h, csvColumns), strings.Join(csvColumns, ", "))
		}
		col[h] = i
	}
	for _, c := range csvColumns[:4] {
		if _, ok := col[c]; !ok {
			return nil, quiet(ErrInvalid, "%s:1: the header has no %q column; want %s", name, c, strings.Join(csvColumns, ","))
		}
	}
	var (
		out  []*tocsinv1.Member
		errs []error
		seen = map[string]int{}
	)
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, quiet(ErrInvalid, "%s: %w", name, err)
		}
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		list := func(c string) []string {
			return strings.FieldsFunc(get(c), func(r rune) bool { return r == ';' || r == ' ' || r == '|' })
		}
		roles := list("roles")
		if len(roles) == 0 {
			roles = []string{"member"}
		}
		sm := seedRecord{ID: get("id"), Name: get("name"), Sectors: list("sectors"), Region: get("region"), Roles: roles, Contact: get("contact"),
			PublisherNamespace: get("publisher_namespace")}
		m, problems := sm.member()
		problems = append(problems, validate(m, vocab)...)
		for _, p := range problems {
			errs = append(errs, quiet(ErrInvalid, "%s:%d: %w", name, line, p))
		}
		if m == nil || len(problems) > 0 {
			continue
		}
		if first, dup := seen[m.Id]; dup {
			errs = append(errs, quiet(ErrInvalid, "%s:%d: %s: id already used by the member at line %d; ids must be unique", name, line, who(m), first))
			continue
		}
		seen[m.Id] = line
		out = append(out, m)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, quiet(ErrInvalid, "%s: no members after the header", name)
	}
	return out, nil
}
