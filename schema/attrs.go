package schema

// The attribute readers the block decoders of decode.go share: each reads
// one attribute of a block's content, checks it and reports a diagnostic
// at its source range.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

func attrs(names ...string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		out[i] = hcl.AttributeSchema{Name: n}
	}
	return out
}

// content decodes body against s and records the diagnostics.
func (l *loader) content(body hcl.Body, s *hcl.BodySchema) *hcl.BodyContent {
	c, diags := body.Content(s)
	l.diags = append(l.diags, diags...)
	return c
}

// single returns the only block of type typ, reporting any duplicates.
func (l *loader) single(c *hcl.BodyContent, typ string) *hcl.Block {
	var first *hcl.Block
	for _, b := range c.Blocks {
		if b.Type != typ {
			continue
		}
		if first != nil {
			l.diags = append(l.diags, errAt(b.DefRange, fmt.Sprintf("Duplicate %s block", typ),
				fmt.Sprintf("Only one %s block is allowed here; another was defined at %s.", typ, first.DefRange))...)
			continue
		}
		first = b
	}
	return first
}

// value evaluates attribute name of attrs converted to typ. ok is false
// when the attribute is absent or its value is unusable (already reported).
func (l *loader) value(ctx *hcl.EvalContext, as hcl.Attributes, name string, typ cty.Type) (cty.Value, *hcl.Attribute, bool) {
	a, ok := as[name]
	if !ok {
		return cty.NilVal, nil, false
	}
	if _, ok := l.afford(a.Expr, true); !ok {
		l.rejected[a] = true
		return cty.NilVal, a, false
	}
	v, diags := a.Expr.Value(ctx)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, a, false
	}
	if v.IsWhollyKnown() && isSensitive(v) {
		l.refuseSensitive(a, name)
		return cty.NilVal, a, false
	}
	if typ != cty.DynamicPseudoType {
		cv, err := convert.Convert(v, typ)
		if err != nil {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
				Detail:  fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, err),
				Subject: a.Expr.Range().Ptr(), Expression: a.Expr, EvalContext: ctx})
			return cty.NilVal, a, false
		}
		v = cv
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, a, false // an error upstream (e.g. a bad variable) was reported
	}
	if v.IsNull() {
		return cty.NilVal, a, false // null means "leave the default"
	}
	return v, a, true
}

// str decodes a string attribute. A value holding a control character
// (see ControlRune) is reported and left out, as if the attribute were absent.
func (l *loader) str(ctx *hcl.EvalContext, as hcl.Attributes, name string, dst *string) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.String)
	if ok && l.checkChars(a, name, v.AsString()) {
		*dst = v.AsString()
		return a
	}
	return nil
}

func (l *loader) boolean(ctx *hcl.EvalContext, as hcl.Attributes, name string, dst *bool) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.Bool)
	if ok {
		*dst = v.True()
		return a
	}
	return nil
}

// integer decodes a whole number within [lo, hi].
func (l *loader) integer(ctx *hcl.EvalContext, as hcl.Attributes, name string, lo, hi int64, dst *int64) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.Number)
	if !ok {
		return nil
	}
	i, exact := valueInt64(v)
	if !exact || i < lo || i > hi {
		l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid number",
			fmt.Sprintf("The %s must be a whole number between %d and %d.", name, lo, hi))...)
		return nil
	}
	*dst = i
	return a
}

func (l *loader) size(ctx *hcl.EvalContext, as hcl.Attributes, name string, dst *int64) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.DynamicPseudoType)
	if !ok {
		return nil
	}
	i, diags := sizeValue(v, a.Expr.Range(), name)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	*dst = i
	return a
}

func (l *loader) duration(ctx *hcl.EvalContext, as hcl.Attributes, name string, plain time.Duration, dst *time.Duration) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.DynamicPseudoType)
	if !ok {
		return nil
	}
	d, diags := durationValue(v, a.Expr.Range(), name, plain)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	*dst = d
	return a
}

// oneOf checks that a decoded string attribute is one of allowed.
func (l *loader) oneOf(a *hcl.Attribute, name, val string, allowed ...string) bool {
	for _, x := range allowed {
		if val == x {
			return true
		}
	}
	l.diags = append(l.diags, errAt(a.Expr.Range(), fmt.Sprintf("Invalid %s", strings.ReplaceAll(name, "_", " ")),
		fmt.Sprintf("The %s must be one of %s, not %q.%s", name, quoteList(allowed), val, suggestion(val, allowed)))...)
	return false
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// suggestion returns ` Did you mean "x"?` for the closest of candidates, or "".
func suggestion(given string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist && d < len(c) {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// localPath resolves p against the configuration directory.
func (l *loader) localPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.cfg.Dir, p)
}

// mustExist reports a missing local file. Key files go through here too:
// they are only stat'ed, never read.
func (l *loader) mustExist(path string, rng hcl.Range, what string) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		l.diags = append(l.diags, errAt(rng, "File not found",
			fmt.Sprintf("The %s %s does not exist or cannot be read: %s.", what, path, rootCause(err)))...)
	case st.IsDir():
		l.diags = append(l.diags, errAt(rng, "File not found", fmt.Sprintf("The %s %s is a directory, not a file.", what, path))...)
	}
}

// hostPath checks a path on a member's host: absolute, clean, and free of
// characters a shell, YAML or a unit file would read specially.
func (l *loader) hostPath(a *hcl.Attribute, name, p string) {
	if a == nil {
		return
	}
	switch why := hostPathProblem(p); {
	case why == "":
	case !strings.HasPrefix(p, "/"):
		l.diags = append(l.diags, errAt(a.Expr.Range(), "Relative path on host",
			fmt.Sprintf("The %s %q is a path on the member's host and must be absolute.", name, p))...)
	default:
		l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid path on host",
			fmt.Sprintf("The %s %q is a path on the member's host and %s.", name, p, why))...)
	}
}
