package stix

import (
	"errors"
	"fmt"

	"github.com/tocsin-project/tocsin/pattern"
)

// checkPattern checks an indicator's pattern_type and, for "stix", its
// pattern with Options.PatternCheck, and records the pattern in Result.
func (v *Validator) checkPattern(r *Result, base, id string, obj map[string]any) {
	typ, _ := obj["pattern_type"].(string)
	pat, _ := obj["pattern"].(string)
	var canonical string
	switch {
	case typ == "stix":
		if err := v.parsePattern(pat, &canonical); err != nil {
			code := CodeInvalidPattern
			var perr *pattern.Error
			if errors.As(err, &perr) && perr.Code == pattern.CodeInvalidHash {
				code = CodeInvalidHash
			}
			r.add(code, id, base+"/pattern", fmt.Sprintf("%v: fix the pattern (STIX 2.1 patterning, part 9)", err))
			return
		}
	case !v.patternTypes[typ]:
		r.add(CodeUnsupportedPatternType, id, base+"/pattern_type", fmt.Sprintf("pattern_type %q is not accepted here: send a STIX pattern (pattern_type \"stix\")", typ))
		return
	}
	r.Patterns = append(r.Patterns, Pattern{IndicatorID: id, Pattern: pat, Type: typ, Path: base + "/pattern", Canonical: canonical})
}

// parsePattern runs Options.PatternCheck, or by default parses the pattern
// and sets canonical to its canonical form.
func (v *Validator) parsePattern(pat string, canonical *string) error {
	if v.opts.PatternCheck != nil {
		return v.opts.PatternCheck(pat)
	}
	parsed, err := pattern.Parse(pat)
	if err != nil {
		return err
	}
	*canonical = parsed.String()
	return nil
}
