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

// TestDiagnosticsSnippetsAsWholeFile: the snippet of a diagnostic rendered
// from its own lines (snippetSource) is byte for byte what hcl's writer
// renders from the whole file, for a range on one line, ranges over several
// lines with a context range before and after the subject, a range at the
// end of a file without a final newline, and with colour (the highlight is
// placed by byte offsets).
func TestDiagnosticsSnippetsAsWholeFile(t *testing.T) {
	src := []byte("locals {\n  a = 1\n}\n\ncluster \"c\" {\n  member \"m1\" {\n    host = \"héllo\"\n  }\n}\nx = 1")
	pos := func(line, col int) hcl.Pos {
		b := 0
		for l := 1; l < line; l++ {
			b += bytes.IndexByte(src[b:], '\n') + 1
		}
		return hcl.Pos{Line: line, Column: col, Byte: b + col - 1}
	}
	rng := func(l1, c1, l2, c2 int) *hcl.Range {
		return &hcl.Range{Filename: "main.hcl", Start: pos(l1, c1), End: pos(l2, c2)}
	}
	cases := map[string]*hcl.Diagnostic{
		"one line":            {Subject: rng(7, 12, 7, 19)},
		"empty range":         {Subject: rng(2, 3, 2, 3)},
		"context around":      {Subject: rng(7, 5, 7, 9), Context: rng(5, 1, 9, 2)},
		"context before only": {Subject: rng(7, 5, 8, 4), Context: rng(6, 3, 7, 20)},
		"end without newline": {Subject: rng(10, 1, 10, 6)},
		"first line":          {Subject: rng(1, 1, 1, 7)},
	}
	for name, d := range cases {
		d.Severity, d.Summary, d.Detail = hcl.DiagError, "Bad", "Fix it."
		for _, color := range []bool{false, true} {
			var want bytes.Buffer
			w := hcl.NewDiagnosticTextWriter(&want, map[string]*hcl.File{"main.hcl": {Bytes: src}}, 100, color)
			if err := w.WriteDiagnostic(d); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			v := &DiagnosticsHuman{Err: &got, Files: map[string][]byte{"main.hcl": src}, Color: color}
			if err := v.Write(hcl.Diagnostics{d}); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s (colour %v):\ngot:\n%s\nwant:\n%s", name, color, got.String(), want.String())
			}
			if !strings.Contains(want.String(), "main.hcl line") {
				t.Errorf("%s: no snippet rendered:\n%s", name, want.String())
			}
		}
	}
}
