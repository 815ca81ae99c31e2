package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestGroupsRefuseAMissingOrMisspelledSubcommand: a typo in a subcommand is
// a usage error (exit 1) naming the choices, not the group's help with exit
// 0; --help still prints the help and exits 0.
func TestGroupsRefuseAMissingOrMisspelledSubcommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"members", "lst"}, ExitUsage, `unknown command "lst" for "tocsin members"; use one of: add, list`},
		{[]string{"aid", "offfer"}, ExitUsage, `unknown command "offfer" for "tocsin aid"`},
		{[]string{"aid"}, ExitUsage, "tocsin aid needs a subcommand: accept"},
		{[]string{"alert", "publsh"}, ExitUsage, `unknown command "publsh" for "tocsin alert"`},
		{[]string{"nosuch"}, ExitUsage, `unknown command "nosuch" for "tocsin"`},
		{[]string{"members", "--help"}, ExitOK, ""},
	} {
		var out, errOut bytes.Buffer
		code := Main(c.args, &out, &errOut)
		if code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("tocsin %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut.String(), c.code, c.want)
		}
	}
}
