package schema

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var sizeUnits = map[string]int64{
	"":    1,
	"B":   1,
	"KB":  1000,
	"MB":  1000 * 1000,
	"GB":  1000 * 1000 * 1000,
	"TB":  1000 * 1000 * 1000 * 1000,
	"KiB": 1 << 10,
	"MiB": 1 << 20,
	"GiB": 1 << 30,
	"TiB": 1 << 40,
}

// ParseSize parses a byte size such as "8GiB", "1.5MiB", "512KB" or "1024"
// into an exact number of bytes. A fractional result is refused.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, fmt.Errorf("%q is not a size; use a number of bytes or a unit such as KiB, MiB, GiB, KB, MB, GB", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return r.Num().Int64(), nil
}

var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond,
	"us": time.Microsecond,
	"µs": time.Microsecond,
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
}

// ParseDuration parses a duration such as "100ms", "1s", "30d", "720h" or
// "1h30m" exactly. Days are 24h and weeks 7d. A bare number is refused
// here; callers that accept plain numbers apply their own unit.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	total := new(big.Rat)
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 {
			return 0, fmt.Errorf("%q is not a duration; use a number with a unit such as ms, s, m, h, d", orig)
		}
		num := s[:i]
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return (r >= '0' && r <= '9') || r == '.' })
		if j < 0 {
			j = len(s)
		}
		unit := s[:j]
		s = s[j:]
		mult, ok := durationUnits[unit]
		if !ok {
			return 0, fmt.Errorf("%q is not a duration: unknown unit %q (use ms, s, m, h, d or w)", orig, unit)
		}
		r, ok := new(big.Rat).SetString(num)
		if !ok {
			return 0, fmt.Errorf("%q is not a duration", orig)
		}
		total.Add(total, r.Mul(r, new(big.Rat).SetInt64(int64(mult))))
	}
	if !total.IsInt() || !total.Num().IsInt64() {
		return 0, fmt.Errorf("%q is not a whole number of nanoseconds or is too large", orig)
	}
	return time.Duration(total.Num().Int64()), nil
}

// valueInt64 converts a whole cty number to int64 exactly.
func valueInt64(v cty.Value) (int64, bool) {
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, false
	}
	i, acc := bf.Int64()
	return i, acc == big.Exact
}

// sizeValue decodes a size attribute: a string with a unit or a number of
// bytes.
func sizeValue(v cty.Value, rng hcl.Range, name string) (int64, hcl.Diagnostics) {
	switch v.Type() {
	case cty.Number:
		if i, ok := valueInt64(v); ok {
			return i, nil
		}
		return 0, errAt(rng, "Invalid size", fmt.Sprintf("The %s must be a whole number of bytes.", name))
	case cty.String:
		i, err := ParseSize(v.AsString())
		if err != nil {
			return 0, errAt(rng, "Invalid size", fmt.Sprintf("The %s is invalid: %s.", name, err))
		}
		return i, nil
	}
	return 0, errAt(rng, "Invalid size", fmt.Sprintf("The %s must be a number of bytes or a string such as \"8GiB\".", name))
}

// durationValue decodes a duration attribute: a string with units, or a
// plain number counted in plainUnit.
func durationValue(v cty.Value, rng hcl.Range, name string, plainUnit time.Duration) (time.Duration, hcl.Diagnostics) {
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		r, _ := bf.Rat(nil)
		if r == nil {
			break
		}
		r.Mul(r, new(big.Rat).SetInt64(int64(plainUnit)))
		if r.IsInt() && r.Num().IsInt64() && r.Sign() >= 0 {
			return time.Duration(r.Num().Int64()), nil
		}
	case cty.String:
		d, err := ParseDuration(v.AsString())
		if err != nil {
			return 0, errAt(rng, "Invalid duration", fmt.Sprintf("The %s is invalid: %s.", name, err))
		}
		if d < 0 {
			break
		}
		return d, nil
	}
	return 0, errAt(rng, "Invalid duration", fmt.Sprintf("The %s must be a non-negative duration such as \"100ms\", \"1s\" or \"30d\", or a plain number of %s.", name, unitName(plainUnit)))
}

func unitName(d time.Duration) string {
	switch d {
	case time.Millisecond:
		return "milliseconds"
	case time.Hour:
		return "hours"
	}
	return "seconds"
}

func errAt(rng hcl.Range, summary, detail string) hcl.Diagnostics {
	r := rng
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &r}}
}

func warnAt(rng hcl.Range, summary, detail string) hcl.Diagnostics {
	r := rng
	return hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: summary, Detail: detail, Subject: &r}}
}
