package stix

import "testing"

func TestParseInstant(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"2016-01-01T00:00:00Z", true},
		{"2016-02-29T00:00:00.000Z", true},
		{"2000-02-29T00:00:00Z", true},
		{"1900-02-29T00:00:00Z", false},
		{"2017-02-29T00:00:00Z", false},
		{"2016-02-30T00:00:00Z", false},
		{"2016-04-31T00:00:00Z", false},
		{"2016-12-31T23:59:60Z", true},
		{"2015-06-30T23:59:60.5Z", true},
		{"2016-12-30T23:59:60Z", false},
		{"2016-03-31T23:59:60Z", false},
		{"2016-12-31T23:58:60Z", false},
		{"2016-12-31T24:00:00Z", false},
		{"2016-12-31T23:00:00", false},
	}
	for _, tt := range tests {
		if _, err := parseInstant(tt.in); (err == nil) != tt.ok {
			t.Errorf("parseInstant(%q) error = %v; want ok %v", tt.in, err, tt.ok)
		}
	}
}

func TestInstantCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2016-01-01T00:00:00Z", "2016-01-01T00:00:00.000Z", 0},
		{"2016-01-01T00:00:00.1Z", "2016-01-01T00:00:00.100000000000Z", 0},
		{"2016-01-01T00:00:00.0000000001Z", "2016-01-01T00:00:00Z", 1},
		{"2016-01-01T00:00:00.09Z", "2016-01-01T00:00:00.1Z", -1},
		{"2016-12-31T23:59:60.999Z", "2017-01-01T00:00:00Z", -1},
		{"2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999Z", 1},
		{"2015-12-31T23:59:59.999Z", "2016-01-01T00:00:00Z", -1},
		{"2016-01-02T00:00:00Z", "2016-01-01T23:59:59.9Z", 1},
	}
	for _, tt := range tests {
		a, errA := parseInstant(tt.a)
		b, errB := parseInstant(tt.b)
		if errA != nil || errB != nil {
			t.Fatalf("parse: %v %v", errA, errB)
		}
		if got := a.compare(b); got != tt.want {
			t.Errorf("compare(%s, %s) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.compare(a); got != -tt.want {
			t.Errorf("compare(%s, %s) = %d; want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}
