package cron

import (
	"testing"
	"time"
)

func TestInterval(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"0 */6 * * *":      6 * time.Hour,
		"@hourly":          time.Hour,
		"@daily":           24 * time.Hour,
		"*/15 * * * *":     15 * time.Minute,
		"30 2 * * mon-fri": 3 * 24 * time.Hour, // Friday to Monday
		"0 0 1 * *":        31 * 24 * time.Hour,
		"0 3,15 * * *":     12 * time.Hour,
		"0 0 * * 7":        7 * 24 * time.Hour,
	}
	for expr, want := range tests {
		t.Run(expr, func(t *testing.T) {
			got, err := Interval(expr, from)
			if err != nil || got != want {
				t.Fatalf("Interval = %v, %v; want %v", got, err, want)
			}
		})
	}
	if _, err := Interval("0 0 31 2 *", from); err == nil {
		t.Fatal("a schedule that never runs was accepted")
	}
}

func TestFires(t *testing.T) {
	tests := map[string]bool{
		"@daily":            true,
		"0 0 30 2 *":        false, // February 30th
		"0 0 31 4,6,9,11 *": false, // the 31st of 30-day months
		"0 0 29 2 *":        true,  // leap years
		"0 0 30 2 mon":      true,  // either day field: every Monday in February
		"0 0 31 2,4 *":      false,
		"0 0 31 2,3 *":      true,
		"0 0 * 2 *":         true,
	}
	for expr, want := range tests {
		t.Run(expr, func(t *testing.T) {
			got, err := Fires(expr)
			if err != nil || got != want {
				t.Fatalf("Fires = %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, ok := range []string{"0 */6 * * *", "@daily", "30 2 * * mon-fri", "0 0 1,15 * *", "*/5 * * JAN-jun 0"} {
		if err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "5-1 * * * *", "*/0 * * * *", "*/60 * * * *", "0 0\n* * *", "@often"} {
		if err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}
