package schema

import (
	"fmt"
	"strconv"
	"strings"
)

var cronFields = []struct {
	name     string
	min, max int
	names    []string
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

var cronMacros = map[string]bool{"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true, "@daily": true, "@midnight": true, "@hourly": true}

// ParseCron checks a standard five-field cron expression (minute hour
// day-of-month month day-of-week) with *, lists, ranges, steps and month and
// weekday names, or one of the @hourly/@daily/@weekly/@monthly/@yearly
// macros.
func ParseCron(expr string) error {
	expr = strings.TrimSpace(expr)
	if cronMacros[expr] {
		return nil
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return fmt.Errorf("a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has %d", len(fields))
	}
	for i, f := range fields {
		spec := cronFields[i]
		for _, part := range strings.Split(f, ",") {
			if err := cronPart(part, spec.min, spec.max, spec.names); err != nil {
				return fmt.Errorf("%s field %q: %s", spec.name, f, err)
			}
		}
	}
	return nil
}

func cronPart(part string, lo, hi int, names []string) error {
	rng, step, hasStep := strings.Cut(part, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n <= 0 || n > hi {
			return fmt.Errorf("invalid step %q", step)
		}
	}
	if rng == "*" {
		return nil
	}
	a, b, isRange := strings.Cut(rng, "-")
	x, err := cronValue(a, lo, hi, names)
	if err != nil {
		return err
	}
	if !isRange {
		return nil
	}
	y, err := cronValue(b, lo, hi, names)
	if err != nil {
		return err
	}
	if y < x {
		return fmt.Errorf("range %q ends before it starts", rng)
	}
	return nil
}

func cronValue(s string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			if lo == 1 {
				return i + 1, nil
			}
			return i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is out of range %d-%d", n, lo, hi)
	}
	return n, nil
}
