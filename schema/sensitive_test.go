package schema

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

func TestRedactString(t *testing.T) {
	tests := map[string]struct {
		s         string
		sensitive []string
		want      string
	}{
		"none":                      {"token=abc", nil, "token=abc"},
		"one":                       {"token=hunter2!", []string{"hunter2"}, "token=(sensitive value)!"},
		"shorter listed first":      {"token=supersecret", []string{"secret", "supersecret"}, "token=(sensitive value)"},
		"longer listed first":       {"token=supersecret", []string{"supersecret", "secret"}, "token=(sensitive value)"},
		"overlapping values":        {"x=abcdef;", []string{"abcd", "cdef"}, "x=(sensitive value);"},
		"adjacent values":           {"x=abcdef;", []string{"abc", "def"}, "x=(sensitive value);"},
		"overlapping occurrences":   {"x=aaaaa;", []string{"aaa"}, "x=(sensitive value);"},
		"several occurrences":       {"a=pw12 b=pw12", []string{"pw12"}, "a=(sensitive value) b=(sensitive value)"},
		"inside the replacement":    {"x=secret", []string{"secret", "sens"}, "x=(sensitive value)"},
		"too short to replace":      {"x=ab", []string{"ab"}, "x=ab"},
		"value absent":              {"nothing here", []string{"hunter2"}, "nothing here"},
		"replacement text as value": {"x=(sensitive value)", []string{"value"}, "x=(sensitive (sensitive value))"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, RedactString(tc.s, tc.sensitive)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestFunctionsKeepMarks: every function's result from a sensitive
// argument is sensitive.
func TestFunctionsKeepMarks(t *testing.T) {
	secret := cty.StringVal("10.0.0.0:s3cr3t").Mark(sensitiveMark)
	fs := functions(t.TempDir(), func(string) string { return "" })
	calls := map[string][]cty.Value{
		"format":     {cty.StringVal("%s"), secret},
		"formatlist": {cty.StringVal("%s"), cty.ListVal([]cty.Value{secret})},
		"join":       {cty.StringVal(","), cty.ListVal([]cty.Value{secret, cty.StringVal("x")})},
		"lower":      {secret},
		"upper":      {secret},
		"split":      {cty.StringVal(":"), secret},
		"replace":    {secret, cty.StringVal(":"), cty.StringVal("-")},
		"trimspace":  {secret},
		"concat":     {cty.ListVal([]cty.Value{secret})},
		"length":     {secret},
		"coalesce":   {cty.StringVal(""), secret},
		"tostring":   {secret},
		"env":        {secret},
	}
	for name, args := range calls {
		v, err := fs[name].Call(args)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !isSensitive(v) {
			t.Errorf("%s: result %#v is not marked sensitive", name, v)
		}
	}
}

// TestFunctionErrorsHidden: a function that fails on a sensitive argument
// does not get to quote it: its message is replaced.
func TestFunctionErrorsHidden(t *testing.T) {
	const secret = "Wv9Vj3Qm4Tp8"
	for name, expr := range map[string]string{
		"file":     `file(var.token)`,
		"cidrhost": `cidrhost(var.token, 1)`,
		"tonumber": `tonumber(var.token)`,
		"try":      `try(tonumber(var.token))`,
		"argument": `cidrhost("10.0.0.0/8", var.token)`,
	} {
		t.Run(name, func(t *testing.T) {
			src := "variable \"token\" {\n  sensitive = true\n}\nlocals {\n  x = " + expr + "\n}\n"
			_, diags := LoadFiles(t.TempDir(), map[string][]byte{"main.hcl": []byte(src)}, LoadOptions{Vars: []string{"token=" + secret}})
			if len(diags) != 1 || !strings.Contains(diags[0].Detail, "derived from a sensitive variable") || diags[0].Expression != nil {
				t.Fatalf("want one diagnostic with the message hidden and no expression context:\n%s", diagsText(diags))
			}
			if strings.Contains(diagsText(diags), secret[:6]) || strings.Contains(diagsText(diags), secret[6:]) {
				t.Errorf("the secret is in the diagnostic:\n%s", diagsText(diags))
			}
		})
	}
}
