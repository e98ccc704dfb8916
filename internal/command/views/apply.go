package views

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/etcdform/etcdform/apply"
)

// ApplyProgress renders apply's progress: one plain line per phase (CI),
// or a line rewritten in place on a terminal.
type ApplyProgress struct {
	w   io.Writer
	tty bool
}

// NewApplyProgress returns a progress view; tty enables in-place updates.
func NewApplyProgress(w io.Writer, tty bool) *ApplyProgress { return &ApplyProgress{w: w, tty: tty} }

// Event renders one progress event.
func (v *ApplyProgress) Event(e apply.Event) {
	what := e.Phase
	if e.Step > 0 {
		m := e.Member
		if m == "" {
			m = "cluster"
		}
		what = fmt.Sprintf("step %d/%d %s %s: %s", e.Step, e.Steps, e.Action, m, e.Phase)
	}
	line := fmt.Sprintf("[%s] %s (%s)", e.Cluster, what, e.Elapsed.Round(100*time.Millisecond))
	if e.Err != nil {
		line += ": " + e.Err.Error()
	}
	if v.tty && e.Phase != "done" && e.Phase != "failed" && e.Phase != "interrupted" {
		fmt.Fprintf(v.w, "\r\033[K%s", line)
		return
	}
	if v.tty {
		fmt.Fprint(v.w, "\r\033[K")
	}
	fmt.Fprintln(v.w, line)
}

// Result renders the outcome of every step.
func (v *ApplyProgress) Result(res *apply.Result, err error) {
	if res == nil {
		return
	}
	done, failed, stopped, notStarted := 0, 0, 0, 0
	for _, s := range res.Steps {
		switch s.Outcome {
		case "done":
			done++
		case "failed":
			failed++
		case "interrupted":
			stopped++
		default:
			notStarted++
		}
	}
	if err != nil && len(res.Steps) > 0 {
		fmt.Fprintln(v.w, "\nSteps:")
		for i, s := range res.Steps {
			m := s.Step.Member
			if m == "" {
				m = "-"
			}
			fmt.Fprintf(v.w, "  %2d. %-13s %-10s %s\n", i+1, s.Step.Action, m, s.Outcome)
		}
	}
	switch {
	case errors.Is(err, apply.ErrInterrupted):
		fmt.Fprintf(v.w, "\nApply interrupted: %d steps done, %d interrupted, %d failed, %d not started.\n", done, stopped, failed, notStarted)
	default:
		fmt.Fprintf(v.w, "\nApply %s: %d steps done, %d failed, %d not started.\n", map[bool]string{true: "complete", false: "stopped"}[err == nil], done, failed, notStarted)
	}
}
