package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
)

// follower returns a member of st that does not lead now.
func follower(t *testing.T, st *lab.State) lab.Host {
	t.Helper()
	leader := leaderName(t, st)
	for _, h := range st.Members() {
		if h.Name != leader {
			return h
		}
	}
	t.Fatal("no follower")
	return lab.Host{}
}

// wipe kills h's etcd and empties its data dir and its config dir, as a
// host rebuilt in place with the same name and address looks.
func wipe(t *testing.T, st *lab.State, h lab.Host) {
	t.Helper()
	killEmptying(t, st, h, "var-lib-etcd", "etc-etcd")
}

// killEmptying kills h's etcd and empties the given directories of its
// host (names under the host's root: "var-lib-etcd", "etc-etcd").
func killEmptying(t *testing.T, st *lab.State, h lab.Host, dirs ...string) {
	t.Helper()
	if err := st.Fault(t.Context(), lab.FaultKill, h.Name); err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(filepath.Join(h.Root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(h.Root, dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// memberID returns the live ID of the member named name, 0 when absent.
func memberID(t *testing.T, st *lab.State, name string) uint64 {
	t.Helper()
	for _, m := range memberList(t, st) {
		if m.Name == name {
			return m.ID
		}
	}
	return 0
}

// TestRebuiltMemberE2E (issue 16 #1, acceptance "Rebuilt member"): a
// follower is killed and its data dir and config emptied, the HCL is
// unchanged, and a client writes at least 100 writes/s. The plan removes
// the old member ID, adds the host back as a learner under the same name
// and promotes it; apply exits 0, a second plan is empty, and no
// acknowledged write is lost.
func TestRebuiltMemberE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	victim := follower(t, st)
	oldID := memberID(t, st, victim.Name)
	dir := config(t, st, nil)

	w := startWriter(t, st)
	w.waitAcked(t, 50)
	hist := recordHistory(t, st)
	wipe(t, st, victim)
	start, mark := time.Now(), w.mark()

	p, code := planAsJSON(t, dir)
	want := []string{"snapshot", "remove-member " + victim.Name, "add-learner " + victim.Name, "promote " + victim.Name}
	if diff := cmp.Diff(want, actions(p)); diff != "" || code != 2 || !p.Applicable {
		t.Fatalf("plan of the rebuilt %s: exit %d, applicable %v, steps (-want +got):\n%s", victim.Name, code, p.Applicable, diff)
	}
	for _, s := range p.Steps {
		if s.Tolerated < 0 {
			t.Errorf("step %s %s tolerates %d failures", s.Action, s.Member, s.Tolerated)
		}
	}
	pf := planFile(t, dir)
	if _, _, code := cli(t, applyArgs(t, pf)...); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	elapsed := time.Since(start)

	newID := memberID(t, st, victim.Name)
	if newID == 0 || newID == oldID {
		t.Errorf("%s after the apply: ID %x, was %x; want a new member under the same name", victim.Name, newID, oldID)
	}
	for _, m := range memberList(t, st) {
		if m.IsLearner {
			t.Errorf("member %s is still a learner", m.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(victim.Root, "etc-etcd", "etcd.conf.yml")); err != nil {
		t.Errorf("%s has no config file after the apply: %v", victim.Name, err)
	}
	if p, code := planAsJSON(t, dir); code != 0 {
		t.Errorf("second plan: exit %d, steps %v, want no changes", code, actions(p))
	}
	w.checkRate(t, mark, fmt.Sprintf("plan + apply took %s", elapsed))
	w.verify(t)
	hist.Verify(t)
}

// TestForeignDataDirRefusedE2E (issue 16 #1, acceptance "Refusals"): a
// down member whose data dir holds another cluster's data (copied from
// another etcd cluster) is a refusal naming both cluster IDs; one holding
// another member's data of the same cluster is a refusal naming both
// member IDs. Nothing is planned for that member.
func TestForeignDataDirRefusedE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	other := etcdtest.NewCluster(t, 1)
	om := other.Members[0]
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	oc := etcdClientAt(t, om.ClientURL)
	ost, err := oc.Status(ctx, om.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := om.Stop(); err != nil {
		t.Fatal(err)
	}
	labc := etcdClient(t, st)
	ml, err := labc.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	labID := ml.Header.ClusterId

	victim := follower(t, st)
	victimID := memberID(t, st, victim.Name)
	wipe(t, st, victim)
	dataDir := filepath.Join(victim.Root, "var-lib-etcd")
	copyDir(t, filepath.Join(om.DataDir, "member"), filepath.Join(dataDir, "member"))
	dir := config(t, st, nil)
	p, code := planAsJSON(t, dir)
	if code != 1 || p.Applicable || len(p.Refusals) != 1 {
		t.Fatalf("plan with another cluster's data dir on %s: exit %d, applicable %v, refusals %+v; want exit 1 and one refusal", victim.Name, code, p.Applicable, p.Refusals)
	}
	r := p.Refusals[0]
	for _, want := range []string{fmt.Sprintf("cluster %x", ost.Header.ClusterId), fmt.Sprintf("cluster %x", labID), victim.Name} {
		if !strings.Contains(r.Detail, want) {
			t.Errorf("refusal %q: %q lacks %q", r.Summary, r.Detail, want)
		}
	}

	// Another member's data of this cluster.
	var donor lab.Host
	for _, h := range st.Members() {
		if h.Name != victim.Name {
			donor = h
		}
	}
	donorID := memberID(t, st, donor.Name)
	if err := os.RemoveAll(filepath.Join(dataDir, "member")); err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join(donor.Root, "var-lib-etcd", "member"), filepath.Join(dataDir, "member"))
	p, code = planAsJSON(t, dir)
	if code != 1 || len(p.Refusals) != 1 {
		t.Fatalf("plan with %s's data dir on %s: exit %d, refusals %+v; want exit 1 and one refusal", donor.Name, victim.Name, code, p.Refusals)
	}
	r = p.Refusals[0]
	for _, want := range []string{fmt.Sprintf("ID %x", victimID), fmt.Sprintf("holds member %x", donorID)} {
		if !strings.Contains(r.Detail, want) {
			t.Errorf("refusal %q: %q lacks %q", r.Summary, r.Detail, want)
		}
	}
}

// copyDir copies a directory tree with cp -a (modes kept: etcd wants its
// member dir 0700).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", from, to, err, out)
	}
}

// etcdClientAt is a client of the given endpoints, closed at the test's
// end.
func etcdClientAt(t *testing.T, endpoints ...string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRebuiltMemberFaultE2E (issue 16: a fault mid-apply): the rebuilt
// host's etcd never comes up as a learner (its binary answers --version
// and then hangs, as a broken install does), under a client writing. The
// apply removes the old member and adds the learner, then stops at the
// promotion when the learner does not catch up: no half-applied
// membership change (two voters with their quorum, one learner never
// promoted), and no acknowledged write lost. With the binary repaired, the
// next plan removes the learner and adds it again; applied, the cluster
// has three voters, and a plan after that is empty.
func TestRebuiltMemberFaultE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	victim := follower(t, st)
	dir := config(t, st, nil)
	w := startWriter(t, st)
	w.waitAcked(t, 50)
	wipe(t, st, victim)

	bin := victim.Path("/usr/local/bin/etcd")
	good := bin + ".good"
	if err := os.Rename(bin, good); err != nil {
		t.Fatal(err)
	}
	version, err := exec.Command(good, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	hang := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = --version ]; then cat <<'EOF'\n%sEOF\nexit 0; fi\nexec sleep 100000\n", version)
	if err := os.WriteFile(bin, []byte(hang), 0o755); err != nil {
		t.Fatal(err)
	}

	pf := planFile(t, dir)
	if _, _, code := cli(t, applyArgs(t, "--step-timeout", "15s", pf)...); code == 0 {
		t.Fatal("apply with a learner that never catches up: exit 0, want a failure")
	}
	var voters, learners []string
	for _, m := range memberList(t, st) {
		if m.IsLearner {
			learners = append(learners, m.Name)
		} else {
			voters = append(voters, m.Name)
		}
	}
	if len(voters) != 2 || len(learners) != 1 {
		t.Fatalf("after the failed apply: voters %v, learners %v; want the two healthy voters and one learner", voters, learners)
	}
	for _, v := range voters {
		if v == victim.Name {
			t.Errorf("%s became a voter although it never caught up", victim.Name)
		}
	}

	if err := os.Rename(good, bin); err != nil {
		t.Fatal(err)
	}
	p, code := planAsJSON(t, dir)
	want := []string{"snapshot", "remove-member " + victim.Name, "add-learner " + victim.Name, "promote " + victim.Name}
	if diff := cmp.Diff(want, actions(p)); diff != "" || code != 2 {
		t.Fatalf("plan after the failed apply: exit %d, steps (-want +got):\n%s", code, diff)
	}
	if _, _, code := cli(t, applyArgs(t, planFile(t, dir))...); code != 0 {
		t.Fatalf("apply after the repair: exit %d", code)
	}
	if p, code := planAsJSON(t, dir); code != 0 {
		t.Errorf("plan after the repair: exit %d, steps %v; want no changes", code, actions(p))
	}
	w.verify(t)
}
