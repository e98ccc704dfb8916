package schema

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// TestLength: length() counts a string's characters as well as a
// collection's elements, as in Terraform (issue 13 #11: the documented
// length(var.ssh_user) > 0 failed).
func TestLength(t *testing.T) {
	fns := functions(t.TempDir(), func(string) string { return "" })
	tests := map[string]struct {
		expr string
		want int64
		err  string
	}{
		"string":        {expr: `length("root")`, want: 4},
		"empty string":  {expr: `length("")`, want: 0},
		"unicode":       {expr: `length("größe")`, want: 5},
		"list":          {expr: `length(split(",", "a,b,c"))`, want: 3},
		"tuple":         {expr: `length(["a", 1])`, want: 2},
		"object":        {expr: `length({a = 1, b = 2})`, want: 2},
		"number":        {expr: `length(5)`, err: "takes a string, a list"},
		"in a relation": {expr: `length("x") > 0 ? 1 : 0`, want: 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e, diags := hclsyntax.ParseExpression([]byte(tt.expr), "t.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			v, diags := e.Value(&hcl.EvalContext{Functions: fns})
			if tt.err != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.err) {
					t.Fatalf("%s = %#v, %v; want an error containing %q", tt.expr, v, diags, tt.err)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("%s: %v", tt.expr, diags)
			}
			if !v.Type().Equals(cty.Number) || !v.Equals(cty.NumberIntVal(tt.want)).True() {
				t.Errorf("%s = %#v, want %d", tt.expr, v, tt.want)
			}
		})
	}
}

// TestLanguageDocExamples loads every hcl example of docs/language.md that
// is a whole configuration (its first block is variable, locals or
// cluster); fragments of a cluster block are left out.
func TestLanguageDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllSubmatch(doc, -1)
	whole := regexp.MustCompile(`^(variable|locals|cluster)\b`)
	n := 0
	for i, b := range blocks {
		if !whole.Match(b[1]) {
			continue
		}
		n++
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), b[1], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, diags := Load(dir, LoadOptions{}); diags.HasErrors() {
			t.Errorf("example %d of docs/language.md:\n%s\n%v", i+1, b[1], diags)
		}
	}
	if n == 0 {
		t.Fatal("no whole-configuration example found in docs/language.md")
	}
}
