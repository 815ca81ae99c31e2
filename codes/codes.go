// Package codes holds Tocsin's machine-readable rejection reasons: the
// kebab-case names of tocsinv1.RejectionCode ("bad-signature") and an error
// type that carries a code, so that every layer can say why a message was
// refused and errors.Is can test for it.
//
// The names are derived from the enum's protobuf descriptor, so a value added
// to rejection.proto needs no change here.
package codes

import (
	"strconv"
	"strings"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// prefix is stripped from every enum value name to form its wire name.
const prefix = "REJECTION_CODE_"

// table maps codes to names and back, built once from the enum descriptor.
var table = func() (t struct {
	names map[tocsinv1.RejectionCode]string
	codes map[string]tocsinv1.RejectionCode
	all   []tocsinv1.RejectionCode
}) {
	values := tocsinv1.RejectionCode(0).Descriptor().Values()
	t.names = make(map[tocsinv1.RejectionCode]string, values.Len())
	t.codes = make(map[string]tocsinv1.RejectionCode, values.Len())
	for i := range values.Len() {
		v := values.Get(i)
		c := tocsinv1.RejectionCode(v.Number())
		name := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix)), "_", "-")
		t.names[c] = name
		if c != tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED {
			t.codes[name] = c
			t.all = append(t.all, c)
		}
	}
	return t
}()

// Name returns the wire name of c: the enum value name without its prefix,
// in kebab-case (REJECTION_CODE_BAD_SIGNATURE is "bad-signature"). A number
// the enum does not define is returned in decimal, as protobuf does.
func Name(c tocsinv1.RejectionCode) string {
	if name, ok := table.names[c]; ok {
		return name
	}
	return strconv.Itoa(int(c))
}

// Parse returns the code whose wire name is name. It reports false for an
// unknown name and for "unspecified", which is never sent.
func Parse(name string) (tocsinv1.RejectionCode, bool) {
	c, ok := table.codes[name]
	return c, ok
}

// All returns every code that may be sent (all but UNSPECIFIED), in enum order.
func All() []tocsinv1.RejectionCode {
	return append([]tocsinv1.RejectionCode(nil), table.all...)
}
