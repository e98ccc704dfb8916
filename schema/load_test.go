package schema

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// commandLineSummaries are the diagnostics about command-line or
// environment input, which have no source range.
var commandLineSummaries = map[string]bool{
	"Invalid -var option":           true,
	"Value for undeclared variable": true,
	"Invalid value for variable":    true,
	"Cannot read variables file":    true,
}

// readOptions reads a case's "options" file: lines "var name=value",
// "var-file path" (relative to the case) and "env NAME=value".
func readOptions(t testing.TB, dir string) LoadOptions {
	env := map[string]string{}
	opts := LoadOptions{Getenv: func(k string) string { return env[k] }}
	b, err := os.ReadFile(filepath.Join(dir, "options"))
	if os.IsNotExist(err) {
		return opts
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		kind, arg, _ := strings.Cut(line, " ")
		switch kind {
		case "var":
			opts.Vars = append(opts.Vars, arg)
		case "var-file":
			opts.VarFiles = append(opts.VarFiles, filepath.Join(dir, arg))
		case "env":
			k, v, _ := strings.Cut(arg, "=")
			env[k] = v
		default:
			t.Fatalf("%s/options: unknown line %q", dir, line)
		}
	}
	return opts
}

// renderDiags renders diagnostics one per block, with file names relative
// to dir, for golden comparison.
func renderDiags(t testing.TB, dir string, diags hcl.Diagnostics) string {
	abs, _ := filepath.Abs(dir)
	rel := func(s string) string {
		s = strings.ReplaceAll(s, abs+string(filepath.Separator), "")
		return strings.ReplaceAll(s, dir+string(filepath.Separator), "")
	}
	var b strings.Builder
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		loc := "(no range)"
		if d.Subject != nil {
			loc = fmt.Sprintf("%s:%d,%d", rel(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(&b, "%s: %s @ %s\n  %s\n", sev, d.Summary, loc, strings.ReplaceAll(rel(d.Detail), "\n", "\n  "))
	}
	return b.String()
}

// withoutRisks drops the safe-default diagnostics (RiskOf), which nearly
// every case would otherwise repeat; TestRisksGolden checks them.
func withoutRisks(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if _, ok := RiskOf(d); !ok {
			out = append(out, d)
		}
	}
	return out
}

// TestInvalidGolden loads every case under testdata/invalid and compares
// its diagnostics, but for the safe-default warnings (withoutRisks), with
// the case's want.golden. Run with -update to rewrite them after reviewing
// the change.
func TestInvalidGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/invalid/*")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(cases)
	if len(cases) < 30 {
		t.Fatalf("only %d invalid cases, want at least 30", len(cases))
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			opts := readOptions(t, dir)
			cfg, diags := Load(dir, opts)
			if cfg == nil {
				t.Fatal("Load returned a nil Config")
			}
			diags = withoutRisks(diags)
			if !diags.HasErrors() {
				t.Errorf("no error diagnostics for an invalid case:\n%s", renderDiags(t, dir, diags))
			}
			for _, d := range diags {
				if d.Subject == nil && !commandLineSummaries[d.Summary] {
					t.Errorf("diagnostic %q has no source range", d.Summary)
				}
			}
			got := renderDiags(t, dir, diags)
			golden := filepath.Join(dir, "want.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s:\n--- want\n%s--- got\n%s", golden, want, got)
			}
		})
	}
}
