package views

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/plan"
)

// An interrupted apply is shown as interrupted, not failed (issue 13 #11).
func TestApplyProgressInterrupted(t *testing.T) {
	var buf bytes.Buffer
	v := NewApplyProgress(&buf, false)
	cause := errors.New("interrupt signal received")
	v.Event(apply.Event{Cluster: "lab", Step: 2, Steps: 3, Member: "etcd-2", Action: plan.Restart, Phase: "interrupted", Err: cause})
	res := &apply.Result{Steps: []apply.StepResult{
		{Step: plan.Step{Action: plan.WriteConfig, Member: "etcd-2"}, Outcome: "done"},
		{Step: plan.Step{Action: plan.Restart, Member: "etcd-2"}, Outcome: "interrupted"},
		{Step: plan.Step{Action: plan.WriteConfig, Member: "etcd-3"}, Outcome: "not started"},
	}}
	v.Result(res, fmt.Errorf("%w (%v): %w", apply.ErrInterrupted, cause, context.Canceled))
	want := `[lab] step 2/3 restart etcd-2: interrupted (0s): interrupt signal received

Steps:
   1. write-config  etcd-2     done
   2. restart       etcd-2     interrupted
   3. write-config  etcd-3     not started

Apply interrupted: 1 steps done, 1 interrupted, 0 failed, 1 not started.
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
