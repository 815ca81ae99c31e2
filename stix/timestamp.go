package stix

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// instant is a STIX timestamp, exact to any number of fraction digits.
type instant struct {
	sec  int64  // seconds since the Unix epoch (of 23:59:59 for a leap second)
	leap bool   // a leap second: after every instant of sec
	frac string // the fraction digits, without trailing zeros
}

// parseInstant reads a timestamp the schema accepted (timestamp.json) and
// checks that it is a real date and time: a day that exists in its month,
// and a leap second only at 23:59:60 on the last day of June or December
// (the only places the IERS inserts them).
func parseInstant(s string) (instant, error) {
	if _, ok := timestampFraction(s); !ok {
		return instant{}, fmt.Errorf("%q is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)", s)
	}
	num := func(a, b int) int { n, _ := strconv.Atoi(s[a:b]); return n }
	year, month, day := num(0, 4), time.Month(num(5, 7)), num(8, 10)
	hour, minute, second := num(11, 13), num(14, 16), num(17, 19)
	if last := daysIn(year, month); day > last {
		return instant{}, fmt.Errorf("%q is not a real date: %s %d has %d days", s, month, year, last)
	}
	if second == 60 && (hour != 23 || minute != 59 || day != daysIn(year, month) || month != time.June && month != time.December) {
		return instant{}, fmt.Errorf("%q is not a real time: a leap second is only ever 23:59:60 on 30 June or 31 December", s)
	}
	t := time.Date(year, month, day, hour, minute, min(second, 59), 0, time.UTC)
	frac := strings.TrimRight(strings.TrimSuffix(strings.TrimPrefix(s[19:], "."), "Z"), "0")
	return instant{sec: t.Unix(), leap: second == 60, frac: frac}, nil
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// compare returns -1, 0 or 1 as a is before, equal to or after b.
func (a instant) compare(b instant) int {
	if a.sec != b.sec {
		if a.sec < b.sec {
			return -1
		}
		return 1
	}
	if a.leap != b.leap {
		if b.leap {
			return -1
		}
		return 1
	}
	n := max(len(a.frac), len(b.frac))
	fa := a.frac + strings.Repeat("0", n-len(a.frac))
	fb := b.frac + strings.Repeat("0", n-len(b.frac))
	return strings.Compare(fa, fb)
}
