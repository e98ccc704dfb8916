package schema

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestParseParallelSameBody: a file parsed in pieces gives the body a
// whole parse gives, node for node and range for range; a file whose cuts
// fall inside a heredoc or a comment, or that defines an attribute in two
// pieces, is not parsed in pieces (the whole parse gives its diagnostics).
// Pieces of one byte at least: a cut at every place parseCuts allows.
func TestParseParallelSameBody(t *testing.T) {
	members, _ := largeMembers(64 << 10)
	locals, _ := largeLocals(16 << 10)
	heredoc := "cluster \"a\" {\n  x = <<EOT\nfoo\n}\ncluster \"b\" {\nEOT\n}\n" + members
	comment := "cluster \"a\" {\n}\n/*\n}\ncluster \"b\" {\n*/\n" + members
	dup := "x = 1\n" + members + "x = 2\n"
	errs := members + "cluster \"z\" {\n  x = \n}\n"
	cases := map[string]struct {
		src    string
		pieces bool
	}{
		"members":            {members, true},
		"locals then blocks": {locals + members + "y = 3 # end\n", true},
		"crlf":               {strings.ReplaceAll(members, "\n", "\r\n"), false},
		"heredoc":            {heredoc, false},
		"comment":            {comment, false},
		"duplicate":          {dup, false},
		"error":              {errs, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			src := []byte(tc.src)
			want, wantDiags := hclsyntax.ParseConfig(src, "main.hcl", hcl.InitialPos)
			if n := len(parseCuts(src, 1)); n < 3 && tc.pieces {
				t.Fatalf("only %d cuts", n)
			}
			got, ok := parseParallel(src, "main.hcl", 1)
			if ok != tc.pieces {
				t.Fatalf("parsed in pieces: %v, want %v (whole parse: %v)", ok, tc.pieces, wantDiags)
			}
			if !ok {
				return
			}
			if wantDiags.HasErrors() {
				t.Fatalf("whole parse failed: %v", wantDiags)
			}
			if !reflect.DeepEqual(got.Body, want.Body) {
				t.Errorf("bodies differ: %d blocks / %d attributes, want %d / %d; ranges %v %v, want %v %v",
					len(got.Body.(*hclsyntax.Body).Blocks), len(got.Body.(*hclsyntax.Body).Attributes),
					len(want.Body.(*hclsyntax.Body).Blocks), len(want.Body.(*hclsyntax.Body).Attributes),
					got.Body.(*hclsyntax.Body).SrcRange, got.Body.(*hclsyntax.Body).EndRange,
					want.Body.(*hclsyntax.Body).SrcRange, want.Body.(*hclsyntax.Body).EndRange)
			}
		})
	}
}
