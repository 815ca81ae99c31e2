package cli

import (
	"bytes"
	"strings"
	"testing"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
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

// TestEveryDurationFlagTakesDays: one syntax for every duration flag, days
// included (--expires 2d as --ttl 90d), and a clear usage error otherwise.
func TestEveryDurationFlagTakesDays(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"aid", "request", "--expires", "2d", "--timeout", "1d"}, -1},
		{[]string{"aid", "request", "--expires", "1d12h"}, -1},
		{[]string{"aid", "request", "--expires", "2x"}, ExitUsage},
		{[]string{"aid", "request", "--expires", "-2d"}, ExitUsage},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"--server", "nats://127.0.0.1:1", "--creds", ""}, c.args...)
		code := Main(args, &out, &errOut)
		bad := strings.Contains(errOut.String(), "invalid argument")
		switch {
		case c.code == ExitUsage && (code != ExitUsage || !bad || !strings.Contains(errOut.String(), "2d or 1d12h")):
			t.Errorf("tocsin %s: exit %d, %q; want a usage error naming the syntax", strings.Join(c.args, " "), code, errOut.String())
		case c.code == -1 && bad:
			t.Errorf("tocsin %s: the duration was refused: %q", strings.Join(c.args, " "), errOut.String())
		}
	}
}

// TestAnAlertWithoutTitleIsNamedAfterWhatItCarries: not a bare "alert".
func TestAnAlertWithoutTitleIsNamedAfterWhatItCarries(t *testing.T) {
	bundle := func(objs string) []byte {
		return []byte(`{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e561","objects":[` + objs + `]}`)
	}
	for _, c := range []struct {
		alert *tocsinv1.Alert
		want  string
	}{
		{&tocsinv1.Alert{StixBundle: bundle(`{"type":"malware","name":"ExampleLocker"},{"type":"indicator","name":"ExampleLocker C2 address"}`)}, "ExampleLocker C2 address"},
		{&tocsinv1.Alert{StixBundle: bundle(`{"type":"malware","name":"ExampleLocker"},{"type":"indicator"}`)}, "ExampleLocker"},
		{&tocsinv1.Alert{StixBundle: bundle(`{"type":"indicator"}`), Tlp: tocsinv1.TLP_TLP_RED}, "TLP:RED alert"},
	} {
		if got := defaultTitle(c.alert); got != c.want {
			t.Errorf("defaultTitle = %q, want %q", got, c.want)
		}
	}
}
