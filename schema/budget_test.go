package schema

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// chain is n locals l1..ln, each made from the one before by step, in
// which %[1]s stands for the previous local; l0 is first.
func chain(first, step string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "locals {\n  l0 = %s\n", first)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  l%d = %s\n", i, fmt.Sprintf(step, fmt.Sprintf("local.l%d", i-1)))
	}
	b.WriteString("}\n")
	return b.String()
}

// TestValueBlowupRefused: a few lines can describe a value larger than
// any memory, or one that takes forever to walk. On the old main, each of
// these hung or ran out of memory; now the first expression past the
// bounds is refused, before it is evaluated.
func TestValueBlowupRefused(t *testing.T) {
	use := "\ncluster \"c\" {\n  etcd_version = tostring(local.l60)\n  member \"m\" {\n    host = \"10.0.0.1\"\n  }\n}\n"
	tests := map[string]struct {
		src  string
		want string
	}{
		"tuple doubling":  {chain("1", "[%[1]s, %[1]s]", 60) + use, "Value too large"},
		"string doubling": {chain(`"xxxxxxxx"`, `"${%[1]s}${%[1]s}"`, 60) + use, "Value too large"},
		"object doubling": {chain("1", "{a = %[1]s, b = %[1]s}", 60) + use, "Value too large"},
		"concat doubling": {chain("[1]", "concat(%[1]s, %[1]s)", 60) + use, "Value too large"},
		"format doubling": {chain(`"x"`, `format("%%s%%s", %[1]s, %[1]s)`, 60) + use, "Value too large"},
		"replace product": {chain(`"aaaaaaaa"`, `replace(%[1]s, "a", %[1]s)`, 60) + use, "Value too large"},
		"nested for": {"locals {\n  s = \"" + strings.Repeat("1,", 20000) + "\"\n  l = split(\",\", local.s)\n  x = [for a in local.l : [for b in local.l : a]]\n}\n",
			"Value too large"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := LoadFiles(t.TempDir(), map[string][]byte{"main.hcl": []byte(tc.src)}, LoadOptions{})
			n := 0
			for _, d := range diags {
				if d.Summary == tc.want {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d %q diagnostics, want 1:\n%s", n, tc.want, diagsText(diags))
			}
		})
	}
}

// TestEvalWorkBounded: each use of a large value costs its size, and the
// uses add up: the first expression past MaxEvalUnits is refused, once;
// later ones are refused silently.
func TestEvalWorkBounded(t *testing.T) {
	l := newLoader(&Config{}, LoadOptions{})
	l.localUnits["big"] = 4 << 20
	expr, diags := hclsyntax.ParseExpression([]byte("length(local.big)"), "main.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var ok []bool
	for i := 0; i < 6; i++ {
		_, afforded := l.afford(expr, false)
		ok = append(ok, afforded)
	}
	if diff := cmp.Diff([]bool{true, true, true, false, false, false}, ok); diff != "" {
		t.Errorf("afforded (-want +got):\n%s", diff)
	}
	if len(l.diags) != 1 || l.diags[0].Summary != "Configuration too large to evaluate" {
		t.Errorf("want one diagnostic:\n%s", diagsText(l.diags))
	}
}

// TestValueBoundsAcceptLargeConfigs: the locals of the large
// configurations that must load cost a small part of the budget, even at
// ten times the size measured here.
func TestValueBoundsAcceptLargeConfigs(t *testing.T) {
	for _, s := range largeShapes {
		src, _ := s.gen(1 << 20)
		f, diags := ParseConfig([]byte(src), "main.hcl")
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		content, _ := f.Body.Content(topSchema)
		l := newLoader(&Config{}, LoadOptions{})
		for _, b := range content.Blocks {
			if b.Type != "locals" {
				continue
			}
			attrs, _ := b.Body.JustAttributes()
			for _, a := range attrs {
				size, ok := l.afford(a.Expr, false)
				if !ok || size*10 > MaxValueUnits/2 {
					t.Fatalf("%s: %s has size %d (afforded: %v)", s.name, a.Name, size, ok)
				}
				l.localUnits[a.Name] = size
			}
		}
		if l.evalUnits*10 > MaxEvalUnits/4 {
			t.Errorf("%s: 1 MB takes %d units of the %d budget, want at most a fortieth", s.name, l.evalUnits, MaxEvalUnits)
		}
	}
}
