package views

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestDiagnosticsCondensed: a file with a warning per block (a fleet of
// clusters keeping a risky default) shows the first SnippetsPerSummary of
// each summary in full with their snippet, and the rest as one diagnostic
// listing where they are; other summaries and errors are not merged into
// it. The snippets, rendered from the file cut after their line, are those
// of the whole file.
func TestDiagnosticsCondensed(t *testing.T) {
	var src strings.Builder
	var diags hcl.Diagnostics
	const n = 40
	for i := range n {
		line := i + 1
		start := src.Len()
		fmt.Fprintf(&src, "cluster \"c%d\" {}\n", i)
		rng := &hcl.Range{Filename: "main.hcl", Start: hcl.Pos{Line: line, Column: 1, Byte: start}, End: hcl.Pos{Line: line, Column: 8, Byte: start + 7}}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Auto compaction off", Detail: fmt.Sprintf("c%d keeps it off.", i), Subject: rng})
	}
	last := &hcl.Range{Filename: "main.hcl", Start: hcl.Pos{Line: n, Column: 1, Byte: src.Len() - 15}, End: hcl.Pos{Line: n, Column: 8, Byte: src.Len() - 8}}
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid name", Detail: "bad", Subject: last})

	var out bytes.Buffer
	v := &DiagnosticsHuman{Err: &out, Files: map[string][]byte{"main.hcl": []byte(src.String())}}
	if err := v.Write(diags); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if c := strings.Count(got, "Warning: Auto compaction off\n"); c != SnippetsPerSummary {
		t.Errorf("%d warnings shown in full, want %d:\n%s", c, SnippetsPerSummary, got)
	}
	for _, want := range []string{
		`  on main.hcl line 3:` + "\n" + `   3: cluster "c2" {}`,
		fmt.Sprintf("Warning: Auto compaction off (%d more)", n-SnippetsPerSummary),
		"at main.hcl:6, main.hcl:7,",
		fmt.Sprintf("and %d more.", n-SnippetsPerSummary-20),
		"Error: Invalid name\n\n  on main.hcl line 40:\n  40: cluster \"c39\" {}",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
