package schema

import (
	"fmt"
	"math"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A few lines of locals can describe values far larger than the file:
// l1 = [local.l0, local.l0], l2 = [local.l1, local.l1], ... is a value of
// 2^n elements after n lines, and "${local.l}${local.l}" doubles a string
// per line. Evaluating such values, or walking them (as conversions,
// comparisons and function calls do), hangs or exhausts memory. So every
// expression's result size and evaluation work are bounded from its syntax
// before it is evaluated, and refused above these limits. The unit is
// about one value: one per value, plus one per 4 bytes of string.
const (
	// MaxValueUnits bounds the size of one value (a 10 MB list of
	// addresses is about 2.5 million units).
	MaxValueUnits = 8 << 20
	// MaxEvalUnits bounds the work of evaluating the whole configuration:
	// walking a value costs up to a microsecond per unit, so this is tens
	// of seconds at worst, when a configuration uses large values many
	// times (the 10 MB configurations of BenchmarkLoadLarge use about 5
	// million).
	MaxEvalUnits = 32 << 20
)

// costs is the estimated size of an expression's result, or its work, as
// k + c*s, where s is the size of one element of the innermost enclosing
// for expression's collection (the iterator's value): summed over all
// elements, c*s adds up to c times the collection's size.
type costs struct{ k, c int64 }

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

func (x costs) add(y costs) costs { return costs{satAdd(x.k, y.k), satAdd(x.c, y.c)} }
func (x costs) max(y costs) costs { return costs{max(x.k, y.k), max(x.c, y.c)} }

// estimator bounds expressions. iter names the innermost for expression's
// iterator variables, whose size is iterBound at most; outer iterators are
// bounded by their own collection's size.
type estimator struct {
	l         *loader
	iter      map[string]bool
	iterBound int64
	outer     map[string]int64
}

// flat bounds x as a constant, taking the iterator at its largest.
func (e *estimator) flat(x costs) int64 { return satAdd(x.k, satMul(x.c, e.iterBound)) }

// of returns bounds of the size of expr's result and of the work of
// evaluating it.
func (e *estimator) of(expr hclsyntax.Expression) (size, work costs) {
	switch x := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return costs{k: valueUnits(x.Val, MaxValueUnits)}, costs{}
	case *hclsyntax.ScopeTraversalExpr:
		return e.traversal(x.Traversal), costs{}
	case *hclsyntax.RelativeTraversalExpr:
		return e.of(x.Source)
	case *hclsyntax.ParenthesesExpr:
		return e.of(x.Expression)
	case *hclsyntax.TemplateWrapExpr:
		return e.of(x.Wrapped)
	case *hclsyntax.ObjectConsKeyExpr:
		return e.of(x.Wrapped)
	case *hclsyntax.IndexExpr:
		size, work = e.of(x.Collection)
		ks, kw := e.of(x.Key)
		return size, work.add(kw).add(ks)
	case *hclsyntax.SplatExpr:
		size, work = e.of(x.Source)
		return size, work.add(size)
	case *hclsyntax.TupleConsExpr:
		size = costs{k: 1}
		for _, item := range x.Exprs {
			s, w := e.of(item)
			size, work = size.add(s), work.add(w)
		}
		return size, work
	case *hclsyntax.ObjectConsExpr:
		size = costs{k: 1}
		for _, item := range x.Items {
			ks, kw := e.of(item.KeyExpr)
			vs, vw := e.of(item.ValueExpr)
			size, work = size.add(ks).add(vs), work.add(kw).add(vw)
		}
		return size, work
	case *hclsyntax.TemplateExpr:
		size = costs{k: 1}
		for _, part := range x.Parts {
			s, w := e.of(part)
			size, work = size.add(s), work.add(w).add(s)
		}
		return size, work
	case *hclsyntax.TemplateJoinExpr:
		size, work = e.of(x.Tuple)
		return size, work.add(size)
	case *hclsyntax.ConditionalExpr:
		cs, cw := e.of(x.Condition)
		ts, tw := e.of(x.TrueResult)
		fs, fw := e.of(x.FalseResult)
		return ts.max(fs), cw.add(cs).add(tw).add(fw)
	case *hclsyntax.BinaryOpExpr:
		ls, lw := e.of(x.LHS)
		rs, rw := e.of(x.RHS)
		return costs{k: 1}, lw.add(rw).add(ls).add(rs)
	case *hclsyntax.UnaryOpExpr:
		s, w := e.of(x.Val)
		return costs{k: 1}, w.add(s)
	case *hclsyntax.FunctionCallExpr:
		return e.call(x)
	case *hclsyntax.ForExpr:
		return e.forExpr(x)
	default:
		r := expr.Range()
		return costs{k: int64(r.End.Byte - r.Start.Byte + 1)}, costs{}
	}
}

func (e *estimator) traversal(t hcl.Traversal) costs {
	name := t.RootName()
	if e.iter[name] {
		return costs{c: 1}
	}
	if n, ok := e.outer[name]; ok {
		return costs{k: n}
	}
	var attr string
	if len(t) > 1 {
		if a, ok := t[1].(hcl.TraverseAttr); ok {
			attr = a.Name
		}
	}
	switch name {
	case "local":
		return costs{k: e.l.localUnits[attr]}
	case "var":
		return costs{k: e.l.varUnits[attr]}
	}
	return costs{k: 1}
}

// call bounds a function's result from its arguments: most functions
// return at most what they are given, a few amplify it.
func (e *estimator) call(x *hclsyntax.FunctionCallExpr) (size, work costs) {
	args := make([]costs, len(x.Args))
	var sum costs
	for i, a := range x.Args {
		s, w := e.of(a)
		args[i] = s
		sum = sum.add(s)
		work = work.add(w).add(s).add(s) // go-cty walks each argument
	}
	arg := func(i int) int64 {
		if i < len(args) {
			return e.flat(args[i])
		}
		return 0
	}
	switch x.Name {
	case "length", "min", "max", "tonumber", "tobool", "can", "cidrhost":
		size = costs{k: 1}
	case "file":
		size = costs{k: maxFileFuncBytes/4 + 1}
	case "env":
		size = costs{k: 32 << 10} // the kernel bounds a variable to 128 KiB
	case "replace": // every match may become the replacement
		size = costs{k: satAdd(satMul(arg(0), satAdd(arg(2), 1)), 1)}
	case "format", "formatlist": // each verb may pad to maxFormatWidth
		size = costs{k: satAdd(satMul(satAdd(arg(0), 1), maxFormatWidth/4+1), e.flat(sum))}
	default: // split, join, concat, upper, ...: about what they are given
		size = sum.add(sum).add(costs{k: 1})
	}
	return size, work.add(size)
}

// forExpr bounds a for expression: its body once per element of the
// collection, with the iterator summing to the collection's size.
func (e *estimator) forExpr(x *hclsyntax.ForExpr) (size, work costs) {
	cs, cw := e.of(x.CollExpr)
	n := e.flat(cs)
	outer := map[string]int64{}
	for k, v := range e.outer {
		outer[k] = v
	}
	for k := range e.iter {
		outer[k] = e.iterBound
	}
	inner := &estimator{l: e.l, iter: map[string]bool{x.KeyVar: x.KeyVar != "", x.ValVar: true}, iterBound: n, outer: outer}
	var bs, bw costs
	for _, part := range []hclsyntax.Expression{x.KeyExpr, x.ValExpr, x.CondExpr} {
		if part != nil {
			s, w := inner.of(part)
			bs, bw = bs.add(s), bw.add(w)
		}
	}
	// Sum over the elements: n*k + c*(size of the collection).
	sum := func(b costs) costs {
		return costs{k: satAdd(satMul(n, b.k), satMul(b.c, cs.k)), c: satMul(b.c, cs.c)}
	}
	size = sum(bs).add(costs{k: 1})
	return size, cw.add(sum(bw)).add(size)
}

// valueUnits is the size of v in the units above, counting up to limit.
func valueUnits(v cty.Value, limit int64) int64 {
	v, _ = v.UnmarkDeep()
	var n int64
	cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		n++
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			n += int64(len(v.AsString()) / 4)
		}
		return n <= limit, nil
	})
	return n
}

// afford bounds expr before it is evaluated: its result must stay within
// MaxValueUnits, and the configuration's work within MaxEvalUnits; walked
// says the caller walks the result (as loader.value does). It returns the
// size bound, or false after reporting why expr is refused.
func (l *loader) afford(expr hcl.Expression, walked bool) (int64, bool) {
	x, ok := expr.(hclsyntax.Expression)
	if !ok || l.evalExceeded {
		return 0, !l.evalExceeded // the excess was reported once
	}
	e := &estimator{l: l}
	s, w := e.of(x)
	size, work := e.flat(s), e.flat(w)
	if walked {
		work = satAdd(work, size)
	}
	l.evalUnits = satAdd(l.evalUnits, work)
	switch {
	case size > MaxValueUnits:
		l.diags = append(l.diags, errAt(expr.Range(), "Value too large",
			fmt.Sprintf("This expression can make a value of up to %d units (about one per value or 4 bytes of text), more than the %d etcdform evaluates. It repeats large values, for example through local values that each refer to the one before more than once; write the value out or simplify it.", size, MaxValueUnits))...)
		return size, false
	case l.evalUnits > MaxEvalUnits:
		l.evalExceeded = true
		l.diags = append(l.diags, errAt(expr.Range(), "Configuration too large to evaluate",
			fmt.Sprintf("Evaluating the configuration up to this expression takes more than %d units of work (about one per value handled), the most etcdform does. It refers to large values many times, or in for expressions over large collections; simplify it.", MaxEvalUnits))...)
		return size, false
	}
	return size, true
}
