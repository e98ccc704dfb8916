package apply

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

// downgradePlan is a 3.6 to 3.5 downgrade of the test cluster as the
// planner lays it out (stage steps left out): validate, enable, each
// member followers first, then the wait for the cluster version.
func downgradePlan(voters int) *plan.Plan {
	obs := testObserved("h1")
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(obs)}
	p.Steps = []plan.Step{
		{Action: plan.DowngradeValidate, Cluster: "lab", Version: "3.5.35"},
		{Action: plan.DowngradeEnable, Cluster: "lab", Version: "3.5.35"},
	}
	for _, m := range []struct {
		n  string
		id uint64
	}{{"b", 2}, {"c", 3}, {"a", 1}} {
		p.Steps = append(p.Steps, plan.Step{Action: plan.DowngradeMember, Cluster: "lab", Member: m.n, MemberID: m.id})
	}
	p.Steps = append(p.Steps, plan.Step{Action: plan.WaitClusterVersion, Cluster: "lab", Version: "3.5.35", Voters: voters})
	return p
}

// TestDowngradeCancel (issue 17 #4): a step that fails after downgrade
// enable while a member still runs the newer version makes apply send
// downgrade cancel and say so, naming the members already downgraded; a
// refused validate and a failure once every member runs the target
// cancel nothing.
func TestDowngradeCancel(t *testing.T) {
	for name, tc := range map[string]struct {
		failOn     string
		refuse     string
		noStorage  bool
		voters     int
		wantCancel bool
		wantErr    []string
	}{
		"a member's restart fails while the cluster is mixed": {
			failOn: "restart c", voters: 3, wantCancel: true,
			wantErr: []string{"step 4/6 (downgrade-member c) failed", "sent downgrade cancel", "b already run 3.5"},
		},
		"the storage version never follows": {
			noStorage: true, voters: 3, wantCancel: true,
			wantErr: []string{"step 2/6 (downgrade-enable cluster lab) failed", "sent downgrade cancel", "storage version 3.5.0"},
		},
		"etcd refuses the validation": {
			failOn: "downgrade validate 3.5", voters: 3,
			wantErr: []string{"etcd refused the downgrade to 3.5 (downgrade validate); nothing was changed"},
		},
		"etcd refuses the enable: nothing to cancel": {
			refuse: "downgrade enable 3.5", voters: 3,
			wantErr: []string{"downgrade enable 3.5: etcd refused the downgrade request: etcdserver: cluster has a downgrade job in progress"},
		},
		"an enable whose answer was lost is cancelled": {
			failOn: "downgrade enable 3.5", voters: 3, wantCancel: true,
			wantErr: []string{"sent downgrade cancel"},
		},
		"the member list is off after every member runs the target": {
			voters:  4,
			wantErr: []string{"holds 3 voters, and the plan had 4", "every member runs 3.5 already, so the downgrade was not cancelled"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{leader: 1, obs: testObserved("h1"), failOn: tc.failOn, refuse: tc.refuse, downgradeTo: "3.5.35", noStorage: tc.noStorage}
			var audit bytes.Buffer
			p := withTargets(testConfig(), downgradePlan(tc.voters))
			for i := range p.Steps {
				if p.Steps[i].Target != nil {
					p.Steps[i].Target.Version = "3.6.16" // what the fake reports
				}
			}
			_, err := Run(context.Background(), p, fakeConn{w}, Options{
				SnapshotDir: t.TempDir(), Audit: NewAudit(&audit, "planhash", "abc", "me"),
				Now: func() time.Time { return time.Unix(0, 0) }, StepTimeout: time.Second,
			})
			if err == nil {
				t.Fatal("apply succeeded")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			cancelled := strings.Contains(strings.Join(w.calls, ","), "downgrade cancel 3.5")
			if cancelled != tc.wantCancel || strings.Contains(audit.String(), `"kind":"downgrade-cancel"`) != tc.wantCancel {
				t.Errorf("cancelled %v, want %v; calls %v", cancelled, tc.wantCancel, w.calls)
			}
		})
	}
}

// TestWaitClusterVersion: the wait passes once the cluster version has the
// target's minor and every member reports the target, and fails on a
// learner in the member list.
func TestWaitClusterVersion(t *testing.T) {
	w := &fakeWorld{leader: 1, obs: testObserved("h1"),
		live: []LiveMember{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}, {ID: 3, Name: "c", IsLearner: true}}}
	p := withTargets(testConfig(), &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(testObserved("h1")),
		Steps: []plan.Step{{Action: plan.WaitClusterVersion, Cluster: "lab", Version: "3.6.16", Voters: 3}}})
	_, err := Run(context.Background(), p, fakeConn{w}, Options{SnapshotDir: t.TempDir(), Audit: NewAudit(io.Discard, "p", "c", "me"), StepTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "holds the learner c, and the plan had none") {
		t.Fatalf("error %v, want the learner named", err)
	}
	if diff := cmp.Diff([]string{"lock", "versions", "put-audit", "unlock"}, w.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
