package command

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/connect"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Issue 15 #4: plan --only maintenance keeps no config work and lists it as
// left out; the plan file records the selection; apply --only maintenance
// refuses anything but such a plan, and apply re-derives a reduced plan's
// steps with the same reduction.
func TestOnlyMaintenance(t *testing.T) {
	dir := quotaConfig(t) // a quota change: a write-config and a restart per member
	tmp := t.TempDir()
	maint, whole := filepath.Join(tmp, "maint.plan"), filepath.Join(tmp, "whole.plan")

	code, stdout, stderr := runWorld(t, quotaWorld(1), "plan", "--only", "maintenance", "--out", maint, dir)
	if code != 0 {
		t.Fatalf("plan --only maintenance: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"--only maintenance",
		"No maintenance steps to apply (--only maintenance).",
		"Left out by --only maintenance: 6 steps of cluster lab: write-config etcd-2, restart etcd-2, write-config etcd-3, restart etcd-3, write-config etcd-1, restart etcd-1.",
		"Apply exactly these steps with: etcdform apply --only maintenance " + maint,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan --only maintenance does not say %q:\n%s", want, stdout)
		}
	}
	p, err := planfile.ReadFile(maint)
	if err != nil {
		t.Fatal(err)
	}
	if p.Meta.Only != plan.OnlyMaintenance || len(p.Steps) != 0 {
		t.Fatalf("saved plan: only %q, %d steps; want maintenance and none", p.Meta.Only, len(p.Steps))
	}
	if code, stdout, stderr := runWorld(t, quotaWorld(1), "show", maint); code != 0 || !strings.Contains(stdout, "--only maintenance") {
		t.Errorf("show does not tell a maintenance-only plan: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runWorld(t, quotaWorld(1), "show", "--json", maint); code != 0 || !strings.Contains(stdout, `"only": "maintenance"`) {
		t.Errorf("show --json does not tell a maintenance-only plan: exit %d\n%s%s", code, stdout, stderr)
	}

	// The scheduled job's apply: nothing to do, and nothing refused.
	code, stdout, stderr = runWorld(t, quotaWorld(1), "apply", "--only", "maintenance", "--auto-approve", maint)
	if code != 0 || !strings.Contains(stdout, "Nothing to apply.") {
		t.Errorf("apply --only maintenance of a maintenance plan: exit %d\n%s%s", code, stdout, stderr)
	}
	// Planned in the same run, the plan is reduced the same way.
	code, stdout, stderr = runWorld(t, quotaWorld(1), "apply", "--only", "maintenance", "--auto-approve", dir)
	if code != 0 || !strings.Contains(stdout, "Nothing to apply.") || !strings.Contains(stdout, "Left out by --only maintenance") {
		t.Errorf("apply --only maintenance DIR: exit %d\n%s%s", code, stdout, stderr)
	}

	// A whole plan is refused, before anything is asked or run.
	if code, _, stderr := runWorld(t, quotaWorld(1), "plan", "--out", whole, dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = runWorld(t, quotaWorld(1), "apply", "--only", "maintenance", "--auto-approve", whole)
	if code != 1 || !strings.Contains(stderr, "Error: --only maintenance: this is a whole plan, not one made with `etcdform plan --only maintenance`") {
		t.Errorf("apply --only maintenance of a whole plan: exit %d, stderr:\n%s", code, stderr)
	}
	// So is a plan marked maintenance-only that holds config work
	// (edited and re-sealed), naming the steps.
	wp, err := planfile.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	wp.Meta.Only = plan.OnlyMaintenance
	if err := planfile.WriteFile(whole, wp); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runWorld(t, quotaWorld(1), "apply", "--only", "maintenance", "--auto-approve", whole)
	if code != 1 || !strings.Contains(stderr, "the plan holds steps that are not maintenance steps") || !strings.Contains(stderr, "  - step 2: write-config etcd-2\n") {
		t.Errorf("apply --only maintenance of config work: exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "Do you want") || strings.Contains(stderr, "Differences:") {
		t.Errorf("apply went on past the --only check:\n%s%s", stdout, stderr)
	}
}

// TestVerifyStepsReducesFresh: the re-derivation of a saved plan's steps
// (verifySteps) reduces the fresh plan the way the saved one was, or a
// maintenance-only plan would never match the configuration's whole plan.
func TestVerifyStepsReducesFresh(t *testing.T) {
	dir := quotaConfig(t)
	env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }, Observe: quotaWorld(1)}
	cfg, ok := loadConfig(env, dir, nil, nil)
	if !ok {
		t.Fatal("config")
	}
	p := makePlan(context.Background(), env, cfg, plan.Options{Only: plan.OnlyMaintenance}, connect.Options{})
	if msg := verifySteps(context.Background(), env, cfg, p, nil); msg != "" {
		t.Errorf("a maintenance-only plan does not verify:\n%s", msg)
	}
	p.Meta.Only = "" // the same steps, claimed to be the whole plan
	if msg := verifySteps(context.Background(), env, cfg, p, nil); !strings.Contains(msg, "step write-config etcd-2 is missing") {
		t.Errorf("an empty whole plan verifies against config work: %q", msg)
	}
}

// nospaceWorld is quotaWorld with every member's DB full and NOSPACE
// raised, so the plan recovers (compact, defrag, disarm) before the quota
// change.
func nospaceWorld(ctx context.Context, cfg *schema.Config) *state.Observed {
	obs := quotaWorld(1)(ctx, cfg)
	for _, oc := range obs.Clusters {
		for i := range oc.Members {
			st := oc.Members[i].Status
			st.DBSize, st.DBSizeInUse, st.Revision = 160<<20, 40<<20, 90000
			oc.Alarms = append(oc.Alarms, state.Alarm{MemberID: oc.Members[i].ID, Type: "NOSPACE"})
		}
	}
	return obs
}

// TestVerifyStepsMaintenanceSteps: a saved maintenance-only plan with
// steps (a NOSPACE recovery, the quota raise left out) verifies against
// the configuration and the clusters, and apply goes on to ask.
func TestVerifyStepsMaintenanceSteps(t *testing.T) {
	dir := quotaConfig(t)
	pf := filepath.Join(t.TempDir(), "maint.plan")
	if code, _, stderr := runWorld(t, nospaceWorld, "plan", "--only", "maintenance", "--out", pf, dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	p, err := planfile.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range p.Steps {
		got = append(got, s.Action.String())
	}
	if want := "compact defrag defrag defrag disarm-alarm disarm-alarm disarm-alarm"; strings.Join(got, " ") != want {
		t.Fatalf("maintenance plan: %q, want %q", got, want)
	}
	// Verified and confirmed: apply goes on to ask.
	code, stdout, stderr := runWorld(t, nospaceWorld, "apply", "--only", "maintenance", pf)
	if code != 1 || !strings.Contains(stderr, "apply needs confirmation") {
		t.Errorf("apply --only maintenance of a NOSPACE recovery: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestVerifyStepsLaterNospace: a saved NOSPACE recovery planned when one
// member had raised the alarm still verifies once the others raised theirs
// (each member raises its own as it applies the failing write): the fresh
// plan's extra disarm-alarm steps are covered by the saved disarm. apply
// goes on to ask. Without a saved disarm, the new alarm is a difference.
func TestVerifyStepsLaterNospace(t *testing.T) {
	dir := quotaConfig(t)
	first := func(ctx context.Context, cfg *schema.Config) *state.Observed {
		obs := nospaceWorld(ctx, cfg)
		for _, oc := range obs.Clusters {
			oc.Alarms = oc.Alarms[:1]
		}
		return obs
	}
	pf := filepath.Join(t.TempDir(), "recovery.plan")
	if code, _, stderr := runWorld(t, first, "plan", "--out", pf, dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runWorld(t, nospaceWorld, "apply", pf)
	if code != 1 || !strings.Contains(stderr, "apply needs confirmation") {
		t.Errorf("apply after two more members raised NOSPACE: exit %d, want it verified and asking\n%s%s", code, stdout, stderr)
	}
	// A plan made before any alarm: the recovery is new work.
	calm := filepath.Join(t.TempDir(), "calm.plan")
	if code, _, stderr := runWorld(t, quotaWorld(1), "plan", "--out", calm, dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runWorld(t, nospaceWorld, "apply", calm); code != 1 || !strings.Contains(stderr, "step disarm-alarm") {
		t.Errorf("apply of a plan made before NOSPACE: exit %d, want the recovery's steps as differences\n%s", code, stderr)
	}
}
