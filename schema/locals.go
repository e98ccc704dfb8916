package schema

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// localValue is one local value and the locals its expression refers to.
type localValue struct {
	index int
	name  string
	attr  *hcl.Attribute
	deps  []int // indexes into the locals slice, each once
	// users are the locals that depend on this one.
	users []int
}

// locals evaluates every locals block in dependency order, in time linear
// in the size of the blocks: each expression is evaluated once, with a
// `local` object of just the locals it refers to, and the object of all
// of them is built once at the end.
func (l *loader) locals(blocks hcl.Blocks) map[string]cty.Value {
	var locals []*localValue
	index := map[string]int{}
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		l.diags = append(l.diags, diags...)
		for _, n := range slices.Sorted(maps.Keys(attrs)) {
			a := attrs[n]
			if prev, dup := index[n]; dup {
				l.diags = append(l.diags, errAt(a.NameRange, "Duplicate local value",
					fmt.Sprintf("A local value named %q was already defined at %s.", n, locals[prev].attr.NameRange))...)
				continue
			}
			index[n] = len(locals)
			locals = append(locals, &localValue{index: len(locals), name: n, attr: a})
		}
	}
	waiting := make([]int, len(locals)) // deps not yet evaluated
	for i, lv := range locals {
		seen := map[int]bool{}
		for _, t := range lv.attr.Expr.Variables() {
			if t.RootName() != "local" {
				continue
			}
			if len(t) < 2 {
				l.diags = append(l.diags, errAt(t.SourceRange(), "Invalid reference to local values",
					"A reference to local values must name one of them, as in local.peer_port.")...)
				continue
			}
			var name string
			switch s := t[1].(type) {
			case hcl.TraverseAttr:
				name = s.Name
			case hcl.TraverseIndex:
				if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
					name = s.Key.AsString()
				}
			}
			if j, ok := index[name]; ok && !seen[j] {
				seen[j] = true
				lv.deps = append(lv.deps, j)
				locals[j].users = append(locals[j].users, i)
				waiting[i]++
			}
		}
	}

	// Kahn's algorithm: evaluate each local once all its deps are done.
	done := make([]cty.Value, len(locals))
	refused := make([]bool, len(locals)) // by afford
	var ready []int
	for i := range locals {
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		lv := locals[i]
		deps := make(map[string]cty.Value, len(lv.deps))
		for _, j := range lv.deps {
			deps[locals[j].name] = done[j]
		}
		l.localsCopied += len(deps)
		refusedDep := false
		for _, j := range lv.deps {
			refusedDep = refusedDep || refused[j]
		}
		if refusedDep {
			refused[i] = true // reported at the dependency
			done[i] = cty.DynamicVal
		} else if units, ok := l.afford(lv.attr.Expr, false); ok {
			l.localUnits[lv.name] = units
			ctx := l.ctx.NewChild()
			ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(deps)}
			v, diags := lv.attr.Expr.Value(ctx)
			l.diags = append(l.diags, diags...)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			done[i] = v
		} else {
			refused[i] = true // and so are the locals that use it
			done[i] = cty.DynamicVal
		}
		for _, u := range lv.users {
			if waiting[u]--; waiting[u] == 0 {
				ready = append(ready, u)
			}
		}
	}

	// What is left depends on a cycle: report the cycles themselves.
	for _, cycle := range localCycles(locals, waiting) {
		names := make([]string, 0, 10)
		for _, i := range cycle {
			if len(names) == 10 {
				names = append(names, fmt.Sprintf("and %d more", len(cycle)-10))
				break
			}
			names = append(names, locals[i].name)
		}
		for _, i := range cycle {
			l.diags = append(l.diags, errAt(locals[i].attr.NameRange, "Cycle in local values",
				fmt.Sprintf("The local value %q depends on itself through %s.", locals[i].name, strings.Join(names, ", ")))...)
		}
	}
	out := make(map[string]cty.Value, len(locals))
	for i, lv := range locals {
		if done[i] == cty.NilVal {
			done[i] = cty.DynamicVal
		}
		out[lv.name] = done[i]
	}
	return out
}

// localCycles returns the cycles among the locals still waiting, each in
// declaration order: the strongly connected components of more than one
// local, or of one that refers to itself (Tarjan's algorithm, without
// recursion so that a long chain cannot exhaust the stack).
func localCycles(locals []*localValue, waiting []int) [][]int {
	const unvisited = -1
	num := make([]int, len(locals))
	low := make([]int, len(locals))
	onStack := make([]bool, len(locals))
	for i := range num {
		num[i] = unvisited
	}
	var stack []int
	var cycles [][]int
	counter := 0
	type frame struct{ v, next int }
	for root := range locals {
		if waiting[root] == 0 || num[root] != unvisited {
			continue
		}
		call := []frame{{v: root}}
		num[root], low[root] = counter, counter
		counter++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.next < len(locals[v].deps) {
				w := locals[v].deps[f.next]
				f.next++
				switch {
				case waiting[w] == 0:
					// evaluated: not part of any cycle
				case num[w] == unvisited:
					num[w], low[w] = counter, counter
					counter++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{v: w})
				case onStack[w]:
					low[v] = min(low[v], num[w])
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] != num[v] {
				continue
			}
			var scc []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			if len(scc) > 1 || selfRef(locals[v]) {
				sort.Ints(scc)
				cycles = append(cycles, scc)
			}
		}
	}
	sort.Slice(cycles, func(i, j int) bool { return cycles[i][0] < cycles[j][0] })
	return cycles
}

func selfRef(lv *localValue) bool {
	for _, d := range lv.deps {
		if d == lv.index {
			return true
		}
	}
	return false
}
