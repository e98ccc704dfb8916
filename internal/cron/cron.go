// Package cron reads five-field cron expressions (and the @daily-style
// macros) as the backup block's schedule uses them: whether they parse
// (Parse, which the schema's checks use), which minutes they fire, and the
// longest gap between two runs, which is what backup freshness is judged by.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var cronMacro = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// cronAlphabet holds every character a schedule may have: fields are
// separated by spaces or tabs, never by a line break.
const cronAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ*/,-@ \t"

// cronFields are the five fields: their names, bounds and value names.
var cronFields = [5]struct {
	name   string
	lo, hi int
	names  []string
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// cronSchedule is an expanded five-field expression.
type cronSchedule struct {
	sets             [5]map[int]bool
	domStar, dowStar bool
}

// Parse checks a standard five-field cron expression (minute hour
// day-of-month month day-of-week) with *, lists, ranges, steps and month and
// weekday names, or one of the @hourly/@daily/@weekly/@monthly/@yearly
// macros. Its error says what is wrong without repeating expr, for a
// diagnostic that quotes it.
func Parse(expr string) error {
	_, err := parseSchedule(expr)
	return err
}

// schedule is parseSchedule for the evaluating functions, whose errors name
// the expression.
func schedule(expr string) (*cronSchedule, error) {
	cs, err := parseSchedule(expr)
	if err != nil {
		return nil, fmt.Errorf("cron: schedule %q: %w", expr, err)
	}
	return cs, nil
}

func parseSchedule(expr string) (*cronSchedule, error) {
	if i := strings.IndexFunc(expr, func(r rune) bool { return !strings.ContainsRune(cronAlphabet, r) }); i >= 0 {
		return nil, fmt.Errorf("character %q is not part of a cron expression", []rune(expr[i:])[0])
	}
	expr = strings.TrimSpace(expr)
	if m, ok := cronMacro[expr]; ok {
		expr = m
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has %d", len(f))
	}
	cs := &cronSchedule{domStar: f[2] == "*" || strings.HasPrefix(f[2], "*/"), dowStar: f[4] == "*" || strings.HasPrefix(f[4], "*/")}
	for i, field := range f {
		set := map[int]bool{}
		for _, part := range strings.Split(field, ",") {
			if err := cronPart(part, i, set); err != nil {
				return nil, fmt.Errorf("%s field %q: %w", cronFields[i].name, field, err)
			}
		}
		cs.sets[i] = set
	}
	if cs.sets[4][7] {
		cs.sets[4][0] = true
	}
	return cs, nil
}

// cronPart adds the values of one comma-separated part of field i to set.
func cronPart(part string, i int, set map[int]bool) error {
	lo, hi := cronFields[i].lo, cronFields[i].hi
	rng, stepS, hasStep := strings.Cut(part, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepS)
		if err != nil || n <= 0 || n > hi {
			return fmt.Errorf("invalid step %q", stepS)
		}
		step = n
	}
	a, b := lo, hi
	if rng != "*" {
		x, y, isRange := strings.Cut(rng, "-")
		var err error
		if a, err = cronValue(x, i); err != nil {
			return err
		}
		b = a
		if isRange {
			if b, err = cronValue(y, i); err != nil {
				return err
			}
			if b < a {
				return fmt.Errorf("range %q ends before it starts", rng)
			}
		} else if hasStep {
			b = hi
		}
	}
	for v := a; v <= b; v += step {
		set[v] = true
	}
	return nil
}

func cronValue(s string, field int) (int, error) {
	spec := cronFields[field]
	for i, n := range spec.names {
		if strings.EqualFold(s, n) {
			return i + spec.lo, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < spec.lo || n > spec.hi {
		return 0, fmt.Errorf("%d is out of range %d-%d", n, spec.lo, spec.hi)
	}
	return n, nil
}

func (cs *cronSchedule) match(t time.Time) bool {
	if !cs.sets[0][t.Minute()] || !cs.sets[1][t.Hour()] || !cs.sets[3][int(t.Month())] {
		return false
	}
	dom, dow := cs.sets[2][t.Day()], cs.sets[4][int(t.Weekday())]
	switch {
	case cs.domStar && cs.dowStar:
		return true
	case cs.domStar:
		return dow
	case cs.dowStar:
		return dom
	}
	return dom || dow // cron: either day field matches when both are restricted
}

// Interval is the longest gap between two consecutive runs of the cron
// expression over the year after from (UTC): the period a healthy job
// must produce a backup in.
func Interval(expr string, from time.Time) (time.Duration, error) {
	cs, err := schedule(expr)
	if err != nil {
		return 0, err
	}
	t := from.UTC().Truncate(time.Minute)
	end := t.AddDate(1, 0, 1)
	var last time.Time
	var longest time.Duration
	for ; t.Before(end); t = t.Add(time.Minute) {
		if !cs.match(t) {
			continue
		}
		if !last.IsZero() && t.Sub(last) > longest {
			longest = t.Sub(last)
		}
		last = t
	}
	if longest == 0 {
		if last.IsZero() {
			return 0, fmt.Errorf("cron: schedule %q never runs", expr)
		}
		longest = 366 * 24 * time.Hour // once a year
	}
	return longest, nil
}

// Fires reports whether expr fires at all. It looks for a matching day in
// the 28 years from 2001, which hold every combination of month, day of
// month, weekday and leap year, so "0 0 30 2 *" (February 30th) does not
// fire and "0 0 29 2 *" (every leap year) does.
func Fires(expr string) (bool, error) {
	cs, err := schedule(expr)
	if err != nil {
		return false, err
	}
	first := func(set map[int]bool, lo, hi int) (int, bool) {
		for v := lo; v <= hi; v++ {
			if set[v] {
				return v, true
			}
		}
		return 0, false
	}
	minute, okM := first(cs.sets[0], 0, 59)
	hour, okH := first(cs.sets[1], 0, 23)
	if !okM || !okH {
		return false, nil
	}
	start := time.Date(2001, 1, 1, hour, minute, 0, 0, time.UTC)
	for t, end := start, start.AddDate(28, 0, 0); t.Before(end); t = t.AddDate(0, 0, 1) {
		if cs.match(t) {
			return true, nil
		}
	}
	return false, nil
}

// Fields is an expression expanded to the values each field matches
// (sorted; day of week 0-6, Sunday 0), and whether the day fields are
// unrestricted.
type Fields struct {
	Minutes, Hours, Days, Months, Weekdays []int
	AnyDay, AnyWeekday                     bool
}

// Expand expands expr.
func Expand(expr string) (Fields, error) {
	cs, err := schedule(expr)
	if err != nil {
		return Fields{}, err
	}
	list := func(i, lo, hi int) []int {
		var out []int
		for v := lo; v <= hi; v++ {
			if cs.sets[i][v] {
				out = append(out, v)
			}
		}
		return out
	}
	return Fields{Minutes: list(0, 0, 59), Hours: list(1, 0, 23), Days: list(2, 1, 31), Months: list(3, 1, 12),
		Weekdays: list(4, 0, 6), AnyDay: cs.domStar, AnyWeekday: cs.dowStar}, nil
}

// Next returns the next n times expr fires after from (UTC, whole minutes).
func Next(expr string, from time.Time, n int) ([]time.Time, error) {
	cs, err := schedule(expr)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	t := from.UTC().Truncate(time.Minute).Add(time.Minute)
	for end := t.AddDate(5, 0, 0); len(out) < n && t.Before(end); t = t.Add(time.Minute) {
		if cs.match(t) {
			out = append(out, t)
		}
	}
	return out, nil
}
