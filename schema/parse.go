package schema

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parallelParseMin is the size from which parseParallel splits a file: a
// 10 MB file took 2.9 s of CPU to lex and parse in one piece, most of it
// growing one token slice of millions of tokens.
const parallelParseMin = 1 << 20

// parseChunk is the size parseParallel aims for per piece.
const parseChunk = 512 << 10

// parseParallel parses a large file in pieces, on every core, and joins
// their top-level attributes and blocks into one body. Pieces are cut only
// after a line that is a lone "}" and before a line starting with a letter:
// where a top-level block ends and the next begins. A cut inside a heredoc,
// a string or a comment leaves the piece before it unterminated, which is
// an error; any error or warning in any piece, or an attribute defined in
// two pieces, and ok is false: the caller parses the file whole, which
// gives the diagnostics the file deserves. When every piece parses
// cleanly, each ends at the top level, so the file's tokens are the pieces'
// tokens and the joined body is the one a whole parse builds
// (TestParseParallelSameBody).
func parseParallel(src []byte, filename string, chunk int) (*hcl.File, bool) {
	cuts := parseCuts(src, chunk)
	if len(cuts) == 0 {
		return nil, false
	}
	type piece struct {
		body  *hclsyntax.Body
		diags hcl.Diagnostics
	}
	bounds := append(append([]int{0}, cuts...), len(src))
	pieces := make([]piece, len(bounds)-1)
	starts := make([]hcl.Pos, len(pieces))
	line := 1
	for i := range pieces {
		if i > 0 {
			line += bytes.Count(src[bounds[i-1]:bounds[i]], []byte{'\n'})
		}
		starts[i] = hcl.Pos{Line: line, Column: 1, Byte: bounds[i]}
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(pieces)) {
		wg.Go(func() {
			for i := range next {
				f, diags := hclsyntax.ParseConfig(src[bounds[i]:bounds[i+1]], filename, starts[i])
				pieces[i].diags = diags
				if f != nil {
					pieces[i].body, _ = f.Body.(*hclsyntax.Body)
				}
			}
		})
	}
	for i := range pieces {
		next <- i
	}
	close(next)
	wg.Wait()

	body := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}}
	for _, p := range pieces {
		if len(p.diags) > 0 || p.body == nil {
			return nil, false
		}
		for name, a := range p.body.Attributes {
			if _, dup := body.Attributes[name]; dup {
				return nil, false
			}
			body.Attributes[name] = a
		}
		body.Blocks = append(body.Blocks, p.body.Blocks...)
	}
	last := pieces[len(pieces)-1].body
	body.SrcRange = hcl.Range{Filename: filename, Start: hcl.InitialPos, End: last.SrcRange.End}
	body.EndRange = last.EndRange
	return &hcl.File{Body: body, Bytes: src}, true
}

// parseCuts gives the offsets where parseParallel cuts src: about every
// chunk bytes, at the start of a line that begins with a letter and
// follows a line that is a lone "}".
func parseCuts(src []byte, chunk int) []int {
	var cuts []int
	for at := chunk; at < len(src); {
		i := bytes.Index(src[at:], []byte("\n}\n"))
		if i < 0 {
			break
		}
		cut := at + i + 3
		if cut < len(src) && isLetter(src[cut]) {
			cuts = append(cuts, cut)
			at = cut + chunk
			continue
		}
		at = at + i + 1
	}
	return cuts
}

func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
