package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// onlyFixture is a plan of two clusters: lab rolls a config change
// (snapshot, write-config and restart per member) with a warning and a
// refusal about its steps; other only writes a config.
func onlyFixture() *Plan {
	return &Plan{
		Clusters: []string{"lab", "other"},
		Steps: []Step{
			{Action: Snapshot, Cluster: "lab"},
			{Action: WriteConfig, Cluster: "lab", Member: "m1"},
			{Action: Restart, Cluster: "lab", Member: "m1"},
			{Action: WriteConfig, Cluster: "lab", Member: "m2"},
			{Action: Restart, Cluster: "lab", Member: "m2", Leader: true},
			{Action: WriteConfig, Cluster: "other", Member: "o1"},
		},
		Warnings: []Warning{
			{Cluster: "lab", Step: 5, Summary: "About the Leader"},
			{Cluster: "lab", Step: 2, Summary: "About a Config Write"},
			{Cluster: "lab", Summary: "About the Cluster"},
		},
		Refusals: []Warning{{Cluster: "lab", Step: 3, Summary: "Refused Restart"}},
	}
}

func TestReduce(t *testing.T) {
	for name, tc := range map[string]struct {
		keep         func(Action) bool
		wantSteps    []string
		wantWarnings []Warning
		wantRefusals []Warning
	}{
		// A risky kept action (a stand-in for defrag) keeps its
		// cluster's snapshot; warnings follow their steps.
		"risky": {
			keep:      func(a Action) bool { return a == Restart },
			wantSteps: []string{"snapshot lab", "restart m1", "restart m2"},
			wantWarnings: []Warning{
				{Cluster: "lab", Step: 3, Summary: "About the Leader"},
				{Cluster: "lab", Step: 0, Summary: "About a Config Write"},
				{Cluster: "lab", Summary: "About the Cluster"},
				{Cluster: "lab", Summary: "Pending Steps Left Out by --only test",
					Detail: "Left out by --only test: 2 steps of cluster lab: write-config m1, write-config m2. Plan without --only, review that plan and apply it to carry them out."},
				{Cluster: "other", Summary: "Pending Steps Left Out by --only test",
					Detail: "Left out by --only test: 1 step of cluster other: write-config o1. Plan without --only, review that plan and apply it to carry them out."},
			},
			wantRefusals: []Warning{{Cluster: "lab", Step: 2, Summary: "Refused Restart"}},
		},
		// A kept action that is not risky (a stand-in for compact)
		// drops the snapshot.
		"not risky": {
			keep:      func(a Action) bool { return a == WriteConfig },
			wantSteps: []string{"write-config m1", "write-config m2", "write-config o1"},
			wantWarnings: []Warning{
				{Cluster: "lab", Step: 0, Summary: "About the Leader"},
				{Cluster: "lab", Step: 1, Summary: "About a Config Write"},
				{Cluster: "lab", Summary: "About the Cluster"},
				{Cluster: "lab", Summary: "Pending Steps Left Out by --only test",
					Detail: "Left out by --only test: 2 steps of cluster lab: restart m1, restart m2. Plan without --only, review that plan and apply it to carry them out."},
			},
			wantRefusals: []Warning{{Cluster: "lab", Step: 0, Summary: "Refused Restart"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := onlyFixture()
			reduce(p, "test", tc.keep)
			var steps []string
			for _, s := range p.Steps {
				steps = append(steps, title(s))
			}
			if diff := cmp.Diff(tc.wantSteps, steps); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarnings, p.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRefusals, p.Refusals); diff != "" {
				t.Errorf("refusals (-want +got):\n%s", diff)
			}
			if p.Meta.Only != "test" {
				t.Errorf("Meta.Only = %q, want test", p.Meta.Only)
			}
		})
	}
}

// TestOnlyMaintenance reduces with the actions table: no action that is
// not a maintenance action stays, and the left-out steps are listed.
func TestOnlyMaintenance(t *testing.T) {
	p := onlyFixture()
	p.Steps = append(p.Steps, Step{Action: Compact, Cluster: "lab"}, Step{Action: Defrag, Cluster: "lab", Member: "m3"})
	Only(p, OnlyMaintenance)
	var kept []string
	for _, s := range p.Steps {
		kept = append(kept, title(s))
	}
	if diff := cmp.Diff([]string{"compact lab", "defrag m3"}, kept); diff != "" {
		t.Errorf("kept steps (-want +got):\n%s", diff)
	}
	for _, s := range p.Steps {
		if s.Action != Snapshot && !s.Action.IsMaintenance() {
			t.Errorf("kept %s, which is not a maintenance action", title(s))
		}
	}
	if got := NotSelected(p, OnlyMaintenance); len(got) != 0 {
		t.Errorf("NotSelected of a reduced plan = %q", got)
	}
	if p.Meta.Only != OnlyMaintenance {
		t.Errorf("Meta.Only = %q", p.Meta.Only)
	}
	var left []string
	for _, w := range p.Warnings {
		if strings.HasPrefix(w.Detail, "Left out by --only maintenance: ") {
			left = append(left, w.Cluster)
		}
	}
	if diff := cmp.Diff([]string{"lab", "other"}, left); diff != "" {
		t.Errorf("clusters with left-out steps (-want +got):\n%s", diff)
	}

	whole := onlyFixture()
	Only(whole, "")
	if diff := cmp.Diff(onlyFixture(), whole); diff != "" {
		t.Errorf(`Only(p, "") changed the plan (-want +got):\n%s`, diff)
	}
	want := []string{"step 2: write-config m1", "step 3: restart m1", "step 4: write-config m2", "step 5: restart m2", "step 6: write-config o1"}
	if diff := cmp.Diff(want, NotSelected(whole, OnlyMaintenance)); diff != "" {
		t.Errorf("NotSelected of a whole plan (-want +got):\n%s", diff)
	}
	if !ValidOnly("") || !ValidOnly(OnlyMaintenance) || ValidOnly("config") {
		t.Errorf("ValidOnly: \"\" and maintenance are valid, config is not")
	}
}
