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
