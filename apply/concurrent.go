package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/etcdform/etcdform/plan/model"
)

// groupEnd returns where the group of steps that run together from
// idx[n] ends (exclusive, an index into idx): after the consecutive steps
// of a Concurrent action (model.ActionInfo); n+1 for a step that runs
// alone.
func groupEnd(p *model.Plan, idx []int, n int) int {
	a := p.Steps[idx[n]].Action
	end := n + 1
	if !a.Info().Concurrent {
		return end
	}
	for end < len(idx) && p.Steps[idx[end]].Action == a {
		end++
	}
	return end
}

// runGroup runs the steps idx[from:to] of a Concurrent action at the same
// time, each through its own copy of the executor (its own progress
// events and host connection; the connections are kept for the later
// steps), and waits for all of them: a failure on one host does not cut
// the others short, so that the error names every host that failed. It
// then records each step's outcome and audit entry in plan order, and
// returns the error that stops the apply when any step failed.
func (x *executor) runGroup(ctx context.Context, p *model.Plan, idx []int, from, to int, res *Result, report func(Event)) error {
	type run struct {
		x   executor
		err error
	}
	runs := make([]run, to-from)
	var wg sync.WaitGroup
	for k := range runs {
		n, i := from+k, idx[from+k]
		step := p.Steps[i]
		r := &runs[k]
		r.x = *x
		r.x.hosts = map[string]Host{}
		if h, ok := x.hosts[step.Member]; ok {
			r.x.hosts[step.Member] = h
		}
		r.x.mark = func(m Milestone, phase string, peer uint64) {
			report(Event{Step: n + 1, Member: step.Member, Action: step.Action, Phase: phase, Milestone: m, Peer: peer})
		}
		r.x.ev = func(phase string) { r.x.mark(0, phase, 0) }
		sr := &res.Steps[i]
		sr.Start, sr.Outcome = x.opts.Now(), "running"
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.x.mark(StepStarted, "starting", 0)
			r.err = r.x.run(ctx, step)
			sr.End = x.opts.Now()
			if r.err == nil {
				r.x.mark(StepDone, "done", 0)
			}
		}()
	}
	wg.Wait()

	var failed []string
	var errs []error
	for k, r := range runs {
		n, i := from+k, idx[from+k]
		step := p.Steps[i]
		for m, h := range r.x.hosts {
			if kept, ok := x.hosts[m]; !ok {
				x.hosts[m] = h
			} else if kept != h {
				h.Close() // two steps of the group dialled the same host
			}
		}
		sr := &res.Steps[i]
		entry := AuditEntry{Kind: "step", Cluster: x.c.Name, Step: n + 1, Action: step.Action.String(), Member: step.Member,
			Start: sr.Start, End: sr.End, Outcome: "done"}
		switch {
		case r.err != nil && interrupted(ctx):
			sr.Outcome, sr.Err = "interrupted", r.err.Error()
			entry.Outcome, entry.Error = "interrupted", interruption(ctx)+": "+r.err.Error()
			report(Event{Step: n + 1, Member: step.Member, Action: step.Action, Phase: "interrupted", Err: context.Cause(ctx)})
		case r.err != nil:
			sr.Outcome, sr.Err = "failed", r.err.Error()
			entry.Outcome, entry.Error = "failed", r.err.Error()
			report(Event{Step: n + 1, Member: step.Member, Action: step.Action, Phase: "failed", Err: r.err})
		default:
			sr.Outcome = "done"
		}
		x.opts.Audit.Record(entry)
		if r.err != nil {
			failed = append(failed, fmt.Sprintf("%d/%d (%s %s)", n+1, len(idx), step.Action, memberLabel(step)))
			errs = append(errs, r.err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	what := "step " + failed[0]
	if len(failed) > 1 {
		what = "steps " + strings.Join(failed, ", ")
	}
	together := fmt.Sprintf("steps %d to %d ran at the same time", from+1, to)
	if interrupted(ctx) {
		return fmt.Errorf("%w (%v) at cluster %s %s (%s); no further steps were started%s: %w", ErrInterrupted, context.Cause(ctx), x.c.Name, what, together, x.cancelDowngrade(ctx, x.c.Name), errors.Join(errs...))
	}
	return fmt.Errorf("apply: cluster %s: %s failed (%s); no further steps were started%s: %w", x.c.Name, what, together, x.cancelDowngrade(ctx, x.c.Name), errors.Join(errs...))
}
