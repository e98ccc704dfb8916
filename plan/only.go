package plan

import (
	"fmt"
	"slices"
	"strings"
)

// OnlyMaintenance is the selection of `plan --only maintenance`: the
// steps whose action is a maintenance action (ActionInfo.Maintenance),
// and the snapshot before them when one of them is risky.
const OnlyMaintenance = "maintenance"

// selections maps each valid --only value to the actions it keeps.
var selections = map[string]func(Action) bool{
	OnlyMaintenance: Action.IsMaintenance,
}

// Selections returns the valid --only values, sorted.
func Selections() []string {
	var out []string
	for k := range selections {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ValidOnly reports whether only is "" (the whole plan) or a valid --only
// value.
func ValidOnly(only string) bool {
	_, ok := selections[only]
	return only == "" || ok
}

// Only reduces p, in place, to the selection only and records it in
// p.Meta.Only; "" leaves p whole. It panics on an invalid selection
// (ValidOnly): arguments are checked before planning.
func Only(p *Plan, only string) {
	if only == "" {
		return
	}
	keep, ok := selections[only]
	if !ok {
		panic(fmt.Sprintf("plan: unknown selection %q", only))
	}
	reduce(p, only, keep)
}

// reduce keeps the steps of p whose action keep accepts, and each
// cluster's snapshot when a kept step of that cluster is risky, in their
// order; it recomputes nothing else. Every dropped step is listed in one
// warning per cluster ("left out by --only"), so that a reviewer knows
// work is pending. Warnings and refusals keep pointing at their step, or
// at none when it was dropped; refusals are all kept, so a refused
// configuration stops a reduced plan too.
func reduce(p *Plan, only string, keep func(Action) bool) {
	p.Meta.Only = only
	riskyIn := map[string]bool{}
	for _, s := range p.Steps {
		if s.Action != Snapshot && keep(s.Action) && s.Action.IsRisky() {
			riskyIn[s.Cluster] = true
		}
	}
	var (
		kept    []Step
		index   = make([]int, len(p.Steps)+1) // old 1-based index -> new, 0 when dropped
		leftOut = map[string][]string{}
		order   []string // clusters with left-out steps, in step order
	)
	for i, s := range p.Steps {
		if s.Action == Snapshot && riskyIn[s.Cluster] || s.Action != Snapshot && keep(s.Action) {
			kept = append(kept, s)
			index[i+1] = len(kept)
			continue
		}
		if s.Action != Snapshot {
			if leftOut[s.Cluster] == nil {
				order = append(order, s.Cluster)
			}
			leftOut[s.Cluster] = append(leftOut[s.Cluster], title(s))
		}
	}
	p.Steps = kept
	for _, ws := range [][]Warning{p.Warnings, p.Refusals} {
		for i := range ws {
			if ws[i].Step > 0 && ws[i].Step < len(index) {
				ws[i].Step = index[ws[i].Step]
			}
		}
	}
	for _, c := range order {
		steps := leftOut[c]
		n := fmt.Sprintf("%d steps", len(steps))
		if len(steps) == 1 {
			n = "1 step"
		}
		p.Warnings = append(p.Warnings, Warning{
			Cluster: c,
			Summary: "Pending Steps Left Out by --only " + only,
			Detail: fmt.Sprintf("Left out by --only %s: %s of cluster %s: %s. Plan without --only, review that plan and apply it to carry them out.",
				only, n, c, strings.Join(steps, ", ")),
		})
	}
}

// NotSelected returns the steps of p that a plan reduced to only may not
// hold (apply --only refuses a plan with any).
func NotSelected(p *Plan, only string) []string {
	keep := selections[only]
	var out []string
	for i, s := range p.Steps {
		if s.Action != Snapshot && (keep == nil || !keep(s.Action)) {
			out = append(out, fmt.Sprintf("step %d: %s", i+1, title(s)))
		}
	}
	return out
}
