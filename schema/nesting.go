package schema

import (
	"fmt"
	"runtime"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// MaxNestingDepth bounds how deeply an expression or block may nest. The
// hclsyntax parser and evaluator recurse once per level, so without a bound
// a file of 100,000 "(" ends the process with a stack overflow. A level is
// an open bracket, brace, parenthesis, ${ or %{ sequence or template
// if/for directive, plus one per operator chained within one of them
// (a+b+c, x ? y : z ? ..., !!x and x[a][b] build trees as deep as the
// chain is long).
const MaxNestingDepth = 256

// ParseConfig is hclsyntax.ParseConfig behind the nesting check: a file
// nested deeper than MaxNestingDepth is refused before the parser sees it,
// and the returned file is nil.
func ParseConfig(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if _, ok := fastDepth(src, MaxNestingDepth); !ok {
		toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
		if diags := checkNesting(toks); diags != nil {
			return nil, diags
		}
	}
	if len(src) >= parallelParseMin && runtime.GOMAXPROCS(0) > 1 {
		if f, ok := parseParallel(src, filename, parseChunk); ok {
			return f, nil
		}
	}
	return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
}

// parseExpression is hclsyntax.ParseExpression behind the nesting check.
func parseExpression(src []byte, filename string) (hclsyntax.Expression, hcl.Diagnostics) {
	if _, ok := fastDepth(src, MaxNestingDepth); !ok {
		toks, _ := hclsyntax.LexExpression(src, filename, hcl.InitialPos)
		if diags := checkNesting(toks); diags != nil {
			return nil, diags
		}
	}
	return hclsyntax.ParseExpression(src, filename, hcl.InitialPos)
}

// nestKind is what opened a nesting level.
type nestKind int

const (
	nestTop       nestKind = iota
	nestBrace              // { of a block body or an object; newlines separate items
	nestBracket            // [
	nestParen              // (
	nestInterp             // ${
	nestControl            // %{, the directive's own header
	nestDirective          // the body of %{ if } or %{ for } up to %{ endif } / %{ endfor }
)

type nestLevel struct {
	kind nestKind
	// chain counts the operators and index brackets chained since the
	// last separator at this level; each adds one to the depth.
	chain int
	// directive is what this %{ header does to the directive levels:
	// +1 opens one (if, for), -1 closes one (endif, endfor).
	directive int
}

// nesting measures the depth of a token stream. Both front ends below,
// the exact one over hclsyntax tokens and the fast one over bytes, feed it
// the same events.
type nesting struct {
	stack []nestLevel
	depth int
}

func newNesting() *nesting { return &nesting{stack: []nestLevel{{kind: nestTop}}} }

func (n *nesting) top() *nestLevel { return &n.stack[len(n.stack)-1] }

func (n *nesting) open(k nestKind) {
	n.stack = append(n.stack, nestLevel{kind: k})
	n.depth++
}

// close pops the innermost level if it is of kind k. A stray closer is
// left for the parser to report; the level stays counted.
func (n *nesting) close(k nestKind) (nestLevel, bool) {
	top := *n.top()
	if top.kind != k {
		return top, false
	}
	n.depth -= 1 + top.chain
	n.stack = n.stack[:len(n.stack)-1]
	return top, true
}

// seqEnd handles the "}" that ends a ${ or %{ sequence.
func (n *nesting) seqEnd() {
	if _, ok := n.close(nestInterp); ok {
		return
	}
	if ctl, ok := n.close(nestControl); ok {
		switch ctl.directive {
		case +1:
			n.open(nestDirective)
		case -1:
			n.close(nestDirective)
		}
	}
}

// control records the keyword that follows a %{.
func (n *nesting) control(keyword string) {
	switch keyword {
	case "if", "for":
		n.top().directive = +1
	case "endif", "endfor":
		n.top().directive = -1
	}
}

func (n *nesting) chain() {
	n.top().chain++
	n.depth++
}

// separator ends the operator chain of the innermost level: a comma does
// at every level, a newline only where newlines separate items.
func (n *nesting) separator(newline bool) {
	top := n.top()
	if newline && top.kind != nestTop && top.kind != nestBrace {
		return
	}
	n.depth -= top.chain
	top.chain = 0
}

// checkNesting returns one "Expression nested too deeply" error at the token
// where the depth first exceeds MaxNestingDepth, or nil. Its depth is never
// below the parser's recursion, whatever the tokens, so a malformed file
// can at worst be refused for its nesting instead of for its syntax.
func checkNesting(toks hclsyntax.Tokens) hcl.Diagnostics {
	_, at := tokenDepth(toks, MaxNestingDepth)
	if at == nil {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Expression nested too deeply",
		Detail: fmt.Sprintf("Brackets, interpolations and chained operators nest more than %d levels deep here, "+
			"which etcdform refuses so that parsing cannot exhaust its stack. Split the expression, for example into local values.", MaxNestingDepth),
		Subject: at,
	}}
}

// tokenDepth returns the greatest depth of toks and, when it exceeds
// limit, the range of the token where it first does.
func tokenDepth(toks hclsyntax.Tokens, limit int) (int, *hcl.Range) {
	n := newNesting()
	var prev hclsyntax.TokenType // the previous token, comments and newlines aside
	deepest := 0
	for i, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace:
			n.open(nestBrace)
		case hclsyntax.TokenOBrack:
			if endsTerm(prev) { // an index: x[a][b] nests IndexExprs
				n.chain()
			}
			n.open(nestBracket)
		case hclsyntax.TokenOParen:
			n.open(nestParen)
		case hclsyntax.TokenTemplateInterp:
			n.open(nestInterp)
		case hclsyntax.TokenTemplateControl:
			n.open(nestControl)
			for _, k := range toks[i+1:] {
				if k.Type == hclsyntax.TokenComment || k.Type == hclsyntax.TokenNewline {
					continue
				}
				if k.Type == hclsyntax.TokenIdent {
					n.control(string(k.Bytes))
				}
				break
			}
		case hclsyntax.TokenCBrace:
			n.close(nestBrace)
		case hclsyntax.TokenCBrack:
			n.close(nestBracket)
		case hclsyntax.TokenCParen:
			n.close(nestParen)
		case hclsyntax.TokenTemplateSeqEnd:
			n.seqEnd()
		case hclsyntax.TokenComma:
			n.separator(false)
		case hclsyntax.TokenNewline:
			n.separator(true)
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual,
			hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan,
			hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenBang,
			hclsyntax.TokenQuestion:
			n.chain()
		}
		deepest = max(deepest, n.depth)
		if n.depth > limit {
			return deepest, t.Range.Ptr()
		}
		if t.Type != hclsyntax.TokenComment && t.Type != hclsyntax.TokenNewline {
			prev = t.Type
		}
	}
	return deepest, nil
}

// endsTerm reports whether a token can end an expression term, so that a
// following "[" indexes it rather than opening a tuple.
func endsTerm(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenIdent, hclsyntax.TokenNumberLit, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
		hclsyntax.TokenCBrace, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
		return true
	}
	return false
}

// fastDepth is a fast pass over src that returns ok only when tokenDepth
// would surely stay within limit, and then an upper bound of its depth:
// lexing with hclsyntax costs about as much as parsing, which a 10 MB file
// cannot afford twice. It follows
// the hclsyntax scanner exactly for the structure (comments, quoted
// templates and their ${ and %{ sequences, braces) and over-counts
// operators (every "[" and "=" and each character of "&&" counts, and a
// "-" inside a name or number). Whatever it does not follow exactly
// (heredocs, "~}", non-ASCII outside strings and comments, a newline inside
// a quoted string, an unterminated comment or string) makes it return
// !ok, and the caller lexes.
func fastDepth(src []byte, limit int) (depth int, ok bool) {
	n := newNesting()
	deepest := 0
	// Scanner modes: 0 is expression code, 1 a quoted template. modes is
	// the hclsyntax scanner's call stack; braces and retBraces its brace
	// counting, which decides whether a "}" ends a template sequence.
	const code, quoted = 0, 1
	modes := []int{code}
	braces := 0
	var retBraces []int
	for i := 0; i < len(src); i++ {
		c := src[i]
		if modes[len(modes)-1] == quoted {
			switch c {
			case '"':
				modes = modes[:len(modes)-1]
			case '\\':
				if i+1 < len(src) {
					switch d := src[i+1]; {
					case d == '\n' || d == '\r':
						return deepest, false
					case d < 0x80:
						i++ // an escape: \" \$ \\ and the like are literal
					}
				}
			case '\n', '\r':
				return deepest, false
			case '$', '%':
				switch {
				case i+1 < len(src) && src[i+1] == '{':
					i++
					if i+1 < len(src) && src[i+1] == '~' {
						i++
					}
					braces++
					retBraces = append(retBraces, braces)
					modes = append(modes, code)
					if c == '$' {
						n.open(nestInterp)
					} else {
						n.open(nestControl)
						j := i + 1
						for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\n') {
							j++
						}
						k := j
						for k < len(src) && isIdentByte(src[k]) {
							k++
						}
						if k == j {
							return deepest, false // a comment or worse before the keyword
						}
						n.control(string(src[j:k]))
					}
				case i+2 < len(src) && src[i+1] == c && src[i+2] == '{':
					i += 2 // $${ and %%{ are literal
				}
			}
			deepest = max(deepest, n.depth)
			if n.depth > limit {
				return deepest, false
			}
			continue
		}
		switch c {
		case ' ', '\t':
		case '\n':
			n.separator(true)
		case '\r':
			if i+1 < len(src) && src[i+1] == '\n' {
				i++
				n.separator(true)
			}
		case '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case '/':
			switch {
			case i+1 < len(src) && src[i+1] == '/':
				for i < len(src) && src[i] != '\n' {
					i++
				}
			case i+1 < len(src) && src[i+1] == '*':
				end := -1
				for j := i + 2; j+1 < len(src); j++ {
					if src[j] == '*' && src[j+1] == '/' {
						end = j + 1
						break
					}
				}
				if end < 0 {
					return deepest, false
				}
				i = end
			default:
				n.chain()
			}
		case '"':
			modes = append(modes, quoted)
		case '<':
			if i+1 < len(src) && src[i+1] == '<' {
				return deepest, false // perhaps a heredoc
			}
			n.chain()
		case '~':
			if i+1 < len(src) && src[i+1] == '}' {
				return deepest, false
			}
		case '{':
			braces++
			n.open(nestBrace)
		case '}':
			if len(retBraces) > 0 && retBraces[len(retBraces)-1] == braces {
				retBraces = retBraces[:len(retBraces)-1]
				modes = modes[:len(modes)-1]
				n.seqEnd()
			} else {
				n.close(nestBrace)
			}
			braces--
		case '[':
			n.chain()
			n.open(nestBracket)
		case ']':
			n.close(nestBracket)
		case '(':
			n.open(nestParen)
		case ')':
			n.close(nestParen)
		case ',':
			n.separator(false)
		case '+', '-', '*', '%', '>', '=', '!', '?', '&', '|':
			n.chain()
		default:
			if c >= 0x80 {
				return deepest, false
			}
		}
		deepest = max(deepest, n.depth)
		if n.depth > limit {
			return deepest, false
		}
	}
	return deepest, len(modes) == 1
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
