package stix

import (
	"errors"
	"fmt"
)

// checkPattern checks an indicator's pattern_type and, for "stix", its
// pattern with Options.PatternCheck, and records the pattern in Result.
func (v *Validator) checkPattern(r *Result, base, id string, obj map[string]any) {
	typ, _ := obj["pattern_type"].(string)
	pat, _ := obj["pattern"].(string)
	switch {
	case typ == "stix":
		if v.opts.PatternCheck != nil {
			if err := v.opts.PatternCheck(pat); err != nil {
				code := CodeInvalidPattern
				var coded CodedError
				if errors.As(err, &coded) && coded.ReasonCode() != "" {
					code = coded.ReasonCode()
				}
				r.add(code, id, base+"/pattern", fmt.Sprintf("the STIX pattern does not parse: %v; fix it (STIX 2.1 part 9)", err))
				return
			}
		}
	case !v.patternTypes[typ]:
		r.add(CodeUnsupportedPatternType, id, base+"/pattern_type", fmt.Sprintf("pattern_type %q is not accepted here: send a STIX pattern (pattern_type \"stix\")", typ))
		return
	}
	r.Patterns = append(r.Patterns, Pattern{IndicatorID: id, Pattern: pat, Type: typ, Path: base + "/pattern"})
}
