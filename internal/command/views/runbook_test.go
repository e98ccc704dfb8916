package views

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/plan"
)

// recoveryPlan is a `plan --recover` of a 3-member cluster that lost
// etcd-1 and etcd-2, as plan.Make words it.
func recoveryPlan() *plan.Plan {
	at := func(a plan.Action, m, host string) plan.Step {
		return plan.Step{Action: a, Cluster: "lab", Member: m, Target: &plan.Target{Host: plan.HostAddr{Host: host}}}
	}
	p := &plan.Plan{Clusters: []string{"lab", "other"}, Meta: plan.Meta{Recover: true}, Steps: []plan.Step{
		{Action: plan.Snapshot, Cluster: "lab"},
		at(plan.StopMember, "etcd-1", "10.0.0.11"),
		at(plan.StopMember, "etcd-2", "10.0.0.12"),
		at(plan.RecoverSurvivor, "etcd-3", "10.0.0.13"),
		at(plan.AddLearner, "etcd-1", "10.0.0.11"),
		at(plan.Promote, "etcd-1", "10.0.0.11"),
		{Action: plan.Restart, Cluster: "other", Member: "o-1"},
	}}
	p.Steps[3].Reason = "etcd-3 has the highest applied index of the members that answer."
	p.Warnings = []plan.Warning{{Cluster: "lab", Member: "etcd-3", Summary: "Recovery from a lost quorum",
		Detail: "Cluster lab has lost its quorum and is recovered from etcd-3. DATA LOSS: etcd-3 has applied raft index 500; the highest index any member reported is 510 (etcd-3): the 10 entries after 500 are LOST."}}
	return p
}

// TestRecoveryRunbook (issue 16): the Markdown of a recovery plan holds a
// runbook: the data-loss window in bold first, then every step of that
// cluster in apply's order, in plain words, with its host; a cluster
// without a recovery step gets none. The JSON says the plan was made with
// --recover.
func TestRecoveryRunbook(t *testing.T) {
	p := recoveryPlan()
	var md bytes.Buffer
	if err := (&PlanMarkdown{}).Plan(&md, p); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	_, rb, ok := strings.Cut(out, "#### Recovery runbook: cluster lab\n")
	if !ok {
		t.Fatalf("no runbook for cluster lab:\n%s", out)
	}
	rb, _, _ = strings.Cut(rb, "<details>")
	loss := "**Recovery from a lost quorum: Cluster lab has lost its quorum and is recovered from etcd-3. DATA LOSS: etcd-3 has applied raft index 500; the highest index any member reported is 510 (etcd-3): the 10 entries after 500 are LOST.**"
	want := []string{
		loss,
		"1. **snapshot**: Takes a snapshot",
		"2. **stop-member etcd-1** on 10.0.0.11: Stops and disables the member's service and renames its data dir's member/ to member.removed-&lt;UTC time&gt; (kept on disk)",
		"3. **stop-member etcd-2** on 10.0.0.12:",
		"4. **recover-survivor etcd-3** on 10.0.0.13: Makes the member a one-member cluster from its own data",
		"_Why:_ etcd-3 has the highest applied index",
		"5. **add-learner etcd-1** on 10.0.0.11: Adds the member to the member list as a learner",
		"6. **promote etcd-1** on 10.0.0.11:",
		"Nothing is deleted",
	}
	last := -1
	for _, w := range want {
		i := strings.Index(rb, w)
		if i < 0 {
			t.Errorf("runbook lacks %q:\n%s", w, rb)
			continue
		}
		if i < last {
			t.Errorf("runbook has %q out of order:\n%s", w, rb)
		}
		last = i
	}
	if strings.Contains(out, "Recovery runbook: cluster other") || strings.Contains(rb, "o-1") {
		t.Errorf("a cluster without a recovery step got a runbook:\n%s", out)
	}
	if i, j := strings.Index(out, "Recovery runbook"), strings.Index(out, "<details>"); i > j {
		t.Error("the runbook comes after the clusters' details; it should be read first")
	}

	// A plan without recovery steps has no runbook.
	p.Steps = p.Steps[6:]
	md.Reset()
	if err := (&PlanMarkdown{}).Plan(&md, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "Recovery runbook") {
		t.Errorf("runbook in a plan without recovery steps:\n%s", md.String())
	}

	var js bytes.Buffer
	if err := (&PlanJSON{}).Plan(&js, recoveryPlan()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Recover bool `json:"recover"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || !doc.Recover {
		t.Errorf("plan JSON recover = %v (%v), want true", doc.Recover, err)
	}
}
