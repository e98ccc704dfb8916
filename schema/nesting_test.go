package schema

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// deep is n copies of open, then mid, then n copies of close.
func deep(n int, open, mid, close string) string {
	return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
}

// nestingCases are sources nested far beyond MaxNestingDepth, in every way
// the parser or the evaluator recurses. want is the source text the
// diagnostic must point at: the token where the limit was crossed.
var nestingCases = map[string]struct {
	src  string
	want string
}{
	"parentheses":      {"locals {\n  x = " + deep(100000, "(", "1", ")") + "\n}\n", "("},
	"brackets":         {"locals {\n  x = " + deep(10000, "[", "1", "]") + "\n}\n", "["},
	"objects":          {"locals {\n  x = " + deep(10000, "{a = ", "1", "}") + "\n}\n", "{"},
	"blocks":           {deep(10000, "a {\n", "", "}\n"), "{"},
	"function calls":   {"locals {\n  x = " + deep(10000, "upper(", `"a"`, ")") + "\n}\n", "("},
	"interpolations":   {"locals {\n  x = " + deep(10000, `"${`, "1", `}"`) + "\n}\n", "${"},
	"directives":       {"locals {\n  x = \"" + deep(10000, "%{ if true }", "a", "%{ endif }") + "\"\n}\n", "%{"},
	"for expressions":  {"locals {\n  x = " + deep(10000, "[for x in ", "[1]", " : x]") + "\n}\n", "["},
	"logical not":      {"locals {\n  x = " + strings.Repeat("!", 10000) + "true\n}\n", "!"},
	"negation":         {"locals {\n  x = " + strings.Repeat("-", 10000) + "1\n}\n", "-"},
	"conditionals":     {"locals {\n  x = " + strings.Repeat("true ? 1 : ", 10000) + "1\n}\n", "?"},
	"sum":              {"locals {\n  x = " + strings.Repeat("1 + ", 10000) + "1\n}\n", "+"},
	"sum over lines":   {"locals {\n  x = (" + strings.Repeat("1 +\n", 10000) + "1)\n}\n", "+"},
	"index":            {"locals {\n  y = 0\n  x = [1]" + strings.Repeat("[local.y]", 10000) + "\n}\n", "["},
	"heredoc":          {"locals {\n  x = <<EOT\n" + deep(10000, `${"`, "1", `"}`) + "\nEOT\n}\n", "${"},
	"after non-ascii":  {"# é\nlocals {\n  x = " + deep(10000, "(", "1", ")") + "\n}\n", "("},
	"crlf":             {"locals {\r\n  x = " + deep(10000, "(", "1", ")") + "\r\n}\r\n", "("},
	"unclosed":         {"locals {\n  x = " + strings.Repeat("(", 10000) + "\n}\n", "("},
	"brackets in text": {"locals {\n  x = [\"" + strings.Repeat(")]}", 1000) + "\", " + strings.Repeat("(", 1000) + "\n}\n", "("},
}

// TestNestingRefused loads each deeply nested source: it must come back as
// one "Expression nested too deeply" error pointing at the token where the
// limit was crossed, not as a stack overflow.
func TestNestingRefused(t *testing.T) {
	for name, tc := range nestingCases {
		t.Run(name, func(t *testing.T) {
			_, diags := LoadFiles(t.TempDir(), map[string][]byte{"main.hcl": []byte(tc.src)}, LoadOptions{})
			if len(diags) != 1 || diags[0].Summary != "Expression nested too deeply" || diags[0].Subject == nil {
				t.Fatalf("got %d diagnostics, want one \"Expression nested too deeply\" with a range:\n%s", len(diags), diagsText(diags))
			}
			s := diags[0].Subject
			if got := tc.src[s.Start.Byte:s.End.Byte]; got != tc.want {
				t.Errorf("the diagnostic points at %q (%s), want %q", got, s, tc.want)
			}
			if s.Start.Line < 1 || s.Start.Column < 1 {
				t.Errorf("the diagnostic has no line and column: %s", s)
			}
		})
	}
}

// TestNestingRefusedInVariables: variable files and -var values go through
// the same check.
func TestNestingRefusedInVariables(t *testing.T) {
	dir := t.TempDir()
	main := []byte("variable \"n\" {\n  type = number\n}\n")
	varFile := filepath.Join(dir, "deep.vars")
	if err := os.WriteFile(varFile, []byte("n = "+deep(100000, "(", "1", ")")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("var-file", func(t *testing.T) {
		_, diags := LoadFiles(dir, map[string][]byte{"main.hcl": main}, LoadOptions{VarFiles: []string{varFile}})
		if !hasSummary(diags, "Expression nested too deeply") {
			t.Errorf("no nesting error:\n%s", diagsText(diags))
		}
	})
	t.Run("-var", func(t *testing.T) {
		_, diags := LoadFiles(dir, map[string][]byte{"main.hcl": main}, LoadOptions{Vars: []string{"n=" + deep(100000, "(", "1", ")")}})
		if !diags.HasErrors() || !strings.Contains(diagsText(diags), "Expression nested too deeply") {
			t.Errorf("no nesting error:\n%s", diagsText(diags))
		}
	})
}

// TestNestingAccepted: nesting within the limit still loads.
func TestNestingAccepted(t *testing.T) {
	for name, src := range map[string]string{
		"200 parentheses":   "locals {\n  x = " + deep(200, "(", "1", ")") + "\n}\n",
		"100-term sum":      "locals {\n  x = " + strings.Repeat("1 + ", 100) + "1\n}\n",
		"many short chains": "locals {\n" + strings.Repeat("  a = !true ? -1 : 2 + 3 * 4\n  b = [[1, -2], [3, 4]]\n", 1000) + "}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := LoadFiles(t.TempDir(), map[string][]byte{"main.hcl": []byte(src)}, LoadOptions{})
			if hasSummary(diags, "Expression nested too deeply") {
				t.Errorf("refused:\n%s", diagsText(diags))
			}
		})
	}
}

// TestFastDepthIsUpperBound checks the fast byte scan against the exact
// count over hclsyntax tokens: whenever the fast scan answers, its depth is
// at least the exact one. It must also answer for ordinary files, or it
// saves nothing.
func TestFastDepthIsUpperBound(t *testing.T) {
	srcs := map[string]string{}
	files, _ := filepath.Glob("testdata/*/*/*.hcl")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = string(b)
		if _, ok := fastDepth(b, 1<<30); !ok && !strings.Contains(string(b), "<<") {
			t.Errorf("%s: the fast scan gave up on an ordinary file", f)
		}
	}
	for name, tc := range nestingCases {
		srcs[name] = tc.src
	}
	for name, src := range map[string]string{
		"escapes":          `x = "\"${a}\\" $${b} %%{c} $$${d} \${e} %{ if f }${g}%{ endif }"`,
		"closers in text":  `x = "}])" # }])` + "\n" + `y = (/* ) */ 1) // )`,
		"braces in interp": `x = "${ {a = {b = 1}}.a.b }"` + "\n" + `y = {"${1}" = 2}`,
		"stray closers":    "x = ))]]}}\ny = ((1))\n}\n",
		"stray seq end":    `x = "${ ( }" + (1)`,
		"control comment":  `x = "%{ /* c */ if a }b%{ endif }"` + "\n",
		"tilde":            `x = "${~ a ~}"`,
		"unterminated":     `x = "${ (((`,
		"comment only":     "/* ((( ",
		"ident dashes":     "x = a-b-c-d[1][2]\n",
		"numbers":          "x = [1e-5, 1.5e+3, 1..2, -1]\n",
		"newline in text":  "x = \"a\n((((\"\n",
	} {
		srcs[name] = src
	}
	for name, src := range srcs {
		if err := fastIsUpperBound(src); err != "" {
			t.Errorf("%s: %s", name, err)
		}
	}
	// Random sources over the pieces where the scanners could disagree.
	pieces := []string{"(", ")", "[", "]", "{", "}", `"`, "${", "%{", "$${", "%%{", "$", "%", `\`, "#", "//", "/*", "*/",
		"\n", "\r\n", "\r", "~", "~}", "<<EOT\n", "EOT\n", "!", "-", "?", ":", ",", "if ", "endif", "for ", "endfor", "a", "1", " ", "é", "=", "&&"}
	rng := rand.New(rand.NewPCG(13, 8))
	for i := 0; i < 100000; i++ {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		if err := fastIsUpperBound(b.String()); err != "" {
			t.Fatalf("%q: %s", b.String(), err)
		}
	}
}

// fastIsUpperBound returns why fastDepth undercounts src, or "".
func fastIsUpperBound(src string) string {
	toks, _ := hclsyntax.LexConfig([]byte(src), "x.hcl", hcl.InitialPos)
	exact, _ := tokenDepth(toks, 1<<30)
	fast, ok := fastDepth([]byte(src), 1<<30)
	if ok && fast < exact {
		return fmt.Sprintf("fast depth %d < exact depth %d", fast, exact)
	}
	return ""
}

func hasSummary(diags hcl.Diagnostics, summary string) bool {
	for _, d := range diags {
		if d.Summary == summary {
			return true
		}
	}
	return false
}

func diagsText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.Error())
		b.WriteString("\n")
	}
	return b.String()
}
