package schema

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// How secrets are kept out of what etcdform prints and writes:
//
//   - The value of a variable declared sensitive carries the cty mark
//     sensitiveMark. go-cty and hcl carry marks through every operator,
//     conditional, for expression, index and function call, so any value
//     derived from a secret (split(":", var.token)[1], replace(var.pw, ...),
//     "${var.pw}x") is marked too.
//   - No setting may take a marked value (loader.value refuses it before it
//     is checked or quoted in a message): every setting is written into plan
//     files and shown in plans, so none may hold a secret.
//   - A function that fails on a marked argument reports that it failed,
//     not its own message, which may quote the argument (see redact).
//   - Diagnostics lose the expression context from which hcl would print the
//     values of the variables an expression refers to.
//   - As a last line of defence, the literal values of sensitive variables
//     are replaced by Redacted in every diagnostic's text (RedactString), and
//     Config.Sensitive lists them for the views to do the same to whatever
//     they print, source snippets included.

// sensitiveMark marks values derived from a sensitive variable.
const sensitiveMark = markSensitive("sensitive")

type markSensitive string

// Redacted replaces a sensitive value wherever it would be printed.
const Redacted = "(sensitive value)"

// isSensitive reports whether v or any value within it derives from a
// sensitive variable.
func isSensitive(v cty.Value) bool {
	return v != cty.NilVal && v.HasMarkDeep(sensitiveMark)
}

// refuseSensitive reports a setting whose value derives from a sensitive
// variable; a is recorded as rejected, so it is not also reported missing.
func (l *loader) refuseSensitive(a *hcl.Attribute, name string) {
	l.rejected[a] = true
	l.diags = append(l.diags, errAt(a.Expr.Range(), "Sensitive value in setting",
		fmt.Sprintf("The %s is derived from a sensitive variable. etcdform writes every setting into plan files and shows it in plans, so no setting may hold a secret: use a variable that is not sensitive.", name))...)
}

// redact removes sensitive values from diagnostics: the message of a
// function that failed on a sensitive argument (function messages often
// quote their arguments: "cannot read /run/secrets/..."), the literal
// values from their text, and the expression context hcl would print
// values from when any variable is sensitive or the expression refers to a
// marked value. marked says whether any value may be marked at all.
func redact(diags hcl.Diagnostics, sensitive []string, marked bool) hcl.Diagnostics {
	for _, d := range diags {
		refers := marked && refersToSensitive(d)
		if refers && (d.Summary == "Error in function call" || d.Summary == "Invalid function argument") {
			d.Detail = "The function failed on a value derived from a sensitive variable, so its message, which could quote the value, is not shown."
		}
		d.Summary = RedactString(d.Summary, sensitive)
		d.Detail = RedactString(d.Detail, sensitive)
		if refers || len(sensitive) > 0 {
			d.Expression = nil
			d.EvalContext = nil
		}
	}
	return diags
}

// refersToSensitive reports whether the expression of d refers to a value
// derived from a sensitive variable.
func refersToSensitive(d *hcl.Diagnostic) bool {
	if d.Expression == nil || d.EvalContext == nil {
		return false
	}
	for _, t := range d.Expression.Variables() {
		if v, diags := t.TraverseAbs(d.EvalContext); !diags.HasErrors() && isSensitive(v) {
			return true
		}
	}
	return false
}

// RedactString replaces every occurrence of the sensitive values in s by
// Redacted. Overlapping and adjacent occurrences, of one value or of
// several, are replaced as one, so no part of a longer value survives
// around a shorter one. Values shorter than three bytes are left alone:
// replacing them would garble the text without hiding anything worth
// hiding.
func RedactString(s string, sensitive []string) string {
	var spans [][2]int
	for _, v := range sensitive {
		if len(v) < 3 {
			continue
		}
		for i := 0; ; {
			j := strings.Index(s[i:], v)
			if j < 0 {
				break
			}
			spans = append(spans, [2]int{i + j, i + j + len(v)})
			i += j + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	last := 0 // end of the text already written or replaced
	for k := 0; k < len(spans); {
		start, end := spans[k][0], spans[k][1]
		for k++; k < len(spans) && spans[k][0] <= end; k++ {
			end = max(end, spans[k][1])
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}
