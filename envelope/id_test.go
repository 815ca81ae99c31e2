package envelope

import (
	"strings"
	"testing"
	"time"
)

// decodeMillis returns the Unix milliseconds in the first 10 characters of a ULID.
func decodeMillis(t *testing.T, id string) int64 {
	t.Helper()
	var ms int64
	for _, c := range id[:10] {
		i := strings.IndexRune(crockford, c)
		if i < 0 {
			t.Fatalf("%q is not Crockford base32", id)
		}
		ms = ms<<5 | int64(i)
	}
	return ms
}

func TestNewID(t *testing.T) {
	// The example of the ULID specification: ulid(1469918176385).
	if got := decodeMillis(t, "01ARYZ6S41TSV4RRFFQ69G5FAV"); got != 1469918176385 {
		t.Fatalf("decodeMillis of the ULID spec example = %d", got)
	}
	at := time.UnixMilli(1469918176385)
	id := newID(at)
	if len(id) != 26 || !strings.HasPrefix(id, "01ARYZ6S41") || !ValidID(id) {
		t.Fatalf("newID(%v) = %q, want 26 characters starting 01ARYZ6S41", at, id)
	}
	if id[0] > '7' {
		t.Errorf("newID() = %q: the first character holds 3 bits, at most 7", id)
	}
	seen := map[string]bool{}
	prev := ""
	for i := range 2000 {
		id := newID(at.Add(time.Duration(i/10) * time.Millisecond))
		if seen[id] {
			t.Fatalf("newID() repeated %q", id)
		}
		seen[id] = true
		if id[:10] < prev {
			t.Fatalf("id %q sorts before the previous millisecond %q", id, prev)
		}
		prev = id[:10]
	}
	if now := NewID(); decodeMillis(t, now) < time.Now().Add(-time.Minute).UnixMilli() {
		t.Errorf("NewID() = %q does not encode the current time", now)
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{NewID(), true},
		{"a", true},
		{"retry_1-A", true},
		{strings.Repeat("a", MaxIDLen), true},
		{strings.Repeat("a", MaxIDLen+1), false},
		{"", false},
		{"a.b", false},
		{"a:b", false},
		{"a b", false},
		{"a*", false},
		{"a>", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestValidMemberID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"st-mary", true},
		{"a", true},
		{"hhs2", true},
		{"a" + strings.Repeat("b", MaxMemberIDLen-1), true},
		{"a" + strings.Repeat("b", MaxMemberIDLen), false},
		{"", false},
		{"2nd-clinic", false},
		{"-x", false},
		{"St-Mary", false},
		{"st_mary", false},
		{"st.mary", false},
		{"st mary", false},
	}
	for _, tt := range tests {
		if got := ValidMemberID(tt.id); got != tt.want {
			t.Errorf("ValidMemberID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
