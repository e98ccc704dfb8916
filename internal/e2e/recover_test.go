package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestQuorumLossRecoveryE2E (issue 16 #2, acceptance "Quorum loss"): two
// of three members are killed and their data dirs and configs emptied.
// A plain plan is a refusal naming `plan --recover` and the survivor;
// plan --recover + apply give a healthy 3-member cluster with a new
// cluster ID, every key acknowledged before the kill (all applied by the
// survivor) is there, the survivor's old data is kept aside, and a second
// plan is empty. A history of puts and linearizable gets recorded before
// the loss and across the recovery is linearizable (see below for why that
// is what a forced new cluster guarantees).
func TestQuorumLossRecoveryE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	dir := config(t, st, nil)
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ml, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldCluster := ml.Header.ClusterId

	// The history. A forced new cluster keeps exactly the survivor's log
	// (and commits its uncommitted tail): a write acknowledged by a quorum
	// that did not include the survivor would be lost, and that loss is the
	// "DATA LOSS" the plan names, not something the recovery can prevent.
	// What is guaranteed is conditional: when the survivor had applied
	// every committed entry at the loss, the cluster it becomes continues
	// the same linearizable history. So the recorder is paused (every
	// operation in flight returns) before the wait for the survivor to
	// catch up and the loss, and resumed for the recovery's apply: one
	// history before, during (no quorum: puts time out, unknown outcomes
	// that the forced commit may or may not keep) and after the recovery
	// must be linearizable, with no acknowledged write lost and no stale
	// read.
	hist := recordHistory(t, st)
	w := startWriter(t, st)
	w.waitAcked(t, 300)
	w.halt()
	hist.Pause()
	w.mu.Lock()
	acked := append([]string(nil), w.acked...)
	w.mu.Unlock()

	survivor := st.Members()[2]
	// The survivor has applied everything the leader committed.
	sc := etcdClientAt(t, survivor.ClientURL())
	labtest.Eventually(t, 10*time.Second, func() error {
		var committed uint64
		for _, h := range st.Members() {
			s, err := c.Status(ctx, h.ClientURL())
			if err != nil {
				return err
			}
			committed = max(committed, s.RaftIndex)
		}
		s, err := sc.Status(ctx, survivor.ClientURL())
		if err != nil {
			return err
		}
		if s.RaftAppliedIndex < committed {
			return fmt.Errorf("%s applied %d of %d", survivor.Name, s.RaftAppliedIndex, committed)
		}
		return nil
	})
	for _, h := range st.Members()[:2] {
		wipe(t, st, h)
	}

	p, code := planAsJSON(t, dir)
	if code != 1 || p.Applicable || len(p.Refusals) != 1 {
		t.Fatalf("plain plan after losing the quorum: exit %d, applicable %v, refusals %+v; want exit 1 and one refusal", code, p.Applicable, p.Refusals)
	}
	for _, want := range []string{"etcdform plan --recover", "The survivor is " + survivor.Name} {
		if !strings.Contains(p.Refusals[0].Detail, want) {
			t.Errorf("refusal %q lacks %q", p.Refusals[0].Detail, want)
		}
	}
	if len(p.Steps) != 0 {
		t.Errorf("the refused plan has steps: %v", actions(p))
	}

	pf := filepath.Join(t.TempDir(), "recover.plan")
	stdout, _, code := cli(t, "plan", "--recover", "--detailed-exitcode", "--out", pf, dir)
	if code != 2 || !strings.Contains(stdout, "DATA LOSS") {
		t.Fatalf("plan --recover: exit %d, want 2 and the data loss said", code)
	}
	out, _, _ := cli(t, "show", "--json", pf)
	var rp planJSON
	if err := json.Unmarshal([]byte(out), &rp); err != nil {
		t.Fatal(err)
	}
	a, b := st.Members()[0].Name, st.Members()[1].Name
	want := []string{"snapshot", "stop-member " + a, "stop-member " + b, "recover-survivor " + survivor.Name,
		"add-learner " + a, "promote " + a, "add-learner " + b, "promote " + b}
	if diff := cmp.Diff(want, actions(rp)); diff != "" {
		t.Fatalf("recovery steps (-want +got):\n%s", diff)
	}
	// The runbook for the on-call reader: the data loss in bold, then the
	// steps in order (issue 16, part 4).
	md, _, _ := cli(t, "show", "--markdown", pf)
	_, rb, found := strings.Cut(md, "#### Recovery runbook")
	if !found || !strings.Contains(rb, "DATA LOSS") ||
		!strings.Contains(rb, "4. **recover-survivor "+survivor.Name+"**") {
		t.Errorf("show --markdown of the recovery plan has no runbook with the loss in bold and the steps in order:\n%s", md)
	}
	hist.Resume()
	if _, _, code := cli(t, applyArgs(t, pf)...); code != 0 {
		t.Fatalf("apply of the recovery: exit %d", code)
	}
	waitHistory(t, hist, 100) // the recovered cluster takes the load
	hist.Verify(t)

	c2 := etcdClient(t, st)
	ml, err = c2.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 3 {
		t.Errorf("%d members after the recovery, want 3", len(ml.Members))
	}
	for _, m := range ml.Members {
		if m.IsLearner {
			t.Errorf("%s is still a learner", m.Name)
		}
	}
	if ml.Header.ClusterId == oldCluster {
		t.Errorf("the cluster ID is still %x after the recovery", oldCluster)
	}
	lost, rev := missing(t, c2, acked)
	t.Logf("%d keys acknowledged before the loss, %d missing after the recovery; revision now %d", len(acked), lost, rev)
	if lost > 0 || len(acked) == 0 {
		t.Errorf("%d of %d acknowledged keys lost", lost, len(acked))
	}
	if rev < 1_000_000_000 {
		t.Errorf("revision %d after the recovery: not bumped", rev)
	}
	aside, _ := filepath.Glob(filepath.Join(survivor.Root, "var-lib-etcd", apply.AsidePrefix+"*", "snap", "db"))
	if len(aside) != 1 {
		t.Errorf("the survivor's old data is not kept aside: %v", aside)
	}
	if p, code := planAsJSON(t, dir); code != 0 {
		t.Errorf("plan after the recovery: exit %d, steps %v, refusals %v; want no changes", code, actions(p), p.Refusals)
	}
}
