package pattern

import (
	"strings"
	"testing"
)

// TestMatchesRegexp checks the MATCHES operand check: RE2 syntax is
// accepted; PCRE-only constructs, which no receiver's RE2 can run, are
// refused saying so; and syntax errors are refused.
func TestMatchesRegexp(t *testing.T) {
	tests := []struct {
		re string
		ok bool
	}{
		{`^[IMPORTANT] Please Review Before`, true},
		{`^Final Report.+\\.exe$`, true},
		{`(?i)evil\\d{2,4}`, true},
		{`(?<name>x)\\k<name>`, false},
		{`foo(?=bar)`, false},
		{`foo(?!bar)`, false},
		{`(?<=foo)bar`, false},
		{`(?<!foo)bar`, false},
		{`(?>a+)b`, false},
		{`(?#comment)a`, false},
		{`(a)\\1`, false},
		{`a*+b`, false},
		{`a++b`, false},
		{`a{1001}`, false},
		{`a{1001,}`, false},
		{`a{1001,2000}`, false},
		{`end\\Z`, false},
		{`(`, false},
		{`)`, false},
		{`[a-`, false},
		{`a**`, false},
		{`x{2,1}`, false},
		{`x{1001,1000}`, false},
		{`a{70000}`, false},
		{`\\y`, false},
		{`(?i)C2-[a-z]{3,8}\\.example`, true},
		{`(?P<>x)`, false},
	}
	for _, tt := range tests {
		t.Run(tt.re, func(t *testing.T) {
			_, err := Parse("[file:name MATCHES '" + tt.re + "']")
			if (err == nil) != tt.ok {
				t.Errorf("MATCHES %q: error %v, want ok = %v", tt.re, err, tt.ok)
			}
			pcre := map[string]bool{`(?<name>x)\\k<name>`: true, `foo(?=bar)`: true, `foo(?!bar)`: true, `(?<=foo)bar`: true, `(?<!foo)bar`: true,
				`(?>a+)b`: true, `(?#comment)a`: true, `(a)\\1`: true, `a*+b`: true, `a++b`: true, `a{1001}`: true, `a{1001,}`: true,
				`a{1001,2000}`: true, `end\\Z`: true}[tt.re]
			if pcre && (err == nil || !strings.Contains(err.Error(), "RE2")) {
				t.Errorf("MATCHES %q: %v; a PCRE-only construct is refused saying RE2 cannot run it", tt.re, err)
			}
		})
	}
}

// TestHashDigits checks the hex length of every fixed-length algorithm of
// hashing-algorithm-ov (and older STIX names), in the spellings found in the wild.
func TestHashDigits(t *testing.T) {
	tests := []struct {
		alg  string
		want int
	}{
		{"MD5", 32}, {"md5", 32},
		{"SHA-1", 40}, {"SHA1", 40}, {"sha_1", 40},
		{"SHA-224", 56}, {"SHA-256", 64}, {"sha256", 64}, {"SHA-384", 96}, {"SHA-512", 128},
		{"SHA3-224", 56}, {"SHA3-256", 64}, {"SHA3-384", 96}, {"SHA3-512", 128},
		{"RIPEMD-160", 40}, {"WHIRLPOOL", 128},
		{"SSDEEP", 0}, {"TLSH", 0}, {"x_custom", 0}, {"", 0}, {"SHA-256-WITH-A-VERY-LONG-NAME", 0},
	}
	for _, tt := range tests {
		if got := hashDigits(tt.alg); got != tt.want {
			t.Errorf("hashDigits(%q) = %d, want %d", tt.alg, got, tt.want)
		}
	}
}

// TestHashChecks checks which comparisons the hash check applies to.
func TestHashChecks(t *testing.T) {
	md5 := "001dd76872d80801692ff942308c64e6"
	tests := []struct {
		name     string
		in       string
		wantHash bool
	}{
		{"valid md5", "[file:hashes.MD5 = '" + md5 + "']", false},
		{"valid md5 upper case digits", "[file:hashes.MD5 = '" + strings.ToUpper(md5) + "']", false},
		{"valid sha-256 in a set", "[file:hashes.'SHA-256' IN ('" + sha256Hex + "')]", false},
		{"not equal checked", "[file:hashes.MD5 != 'abc']", true},
		{"in checked", "[file:hashes.MD5 IN ('abc')]", true},
		{"like not checked", "[file:hashes.MD5 LIKE 'abc%']", false},
		{"matches not checked", "[file:hashes.MD5 MATCHES '^abc']", false},
		{"hex literal not checked", "[file:hashes.MD5 = h'ab']", false},
		{"ssdeep not checked", "[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']", false},
		{"custom algorithm not checked", "[file:hashes.x_acme = 'abc']", false},
		{"not under hashes", "[file:name.MD5 = 'abc']", false},
		{"index after hashes", "[file:hashes[0] = 'abc']", false},
		{"key named hashes is enough", "[x-acme:hashes.'SHA-1' = 'abc']", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if got := err != nil; got != tt.wantHash {
				t.Fatalf("Parse(%q) error %v, want a hash error: %v", tt.in, err, tt.wantHash)
			}
			if err != nil && err.(*Error).Code != CodeInvalidHash {
				t.Errorf("Parse(%q) code %s, want %s", tt.in, err.(*Error).Code, CodeInvalidHash)
			}
		})
	}
}
