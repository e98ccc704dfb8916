package plan_test

import (
	"strings"
	"testing"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

// lostTwo is a 3-member lab where etcd-1 and etcd-2 are down with empty
// data dirs and etcd-3 answers alone, without a leader, at applied index
// 500; etcd-3 last heard of index 510.
func lostTwo() *state.Cluster {
	oc := observe(testCluster(1, 2, 3), 1)
	oc.LeaderID = 0
	for _, n := range []string{"etcd-1", "etcd-2"} {
		m := liveMember(oc, n)
		m.Status, m.StatusError = nil, "connection refused"
		h := oc.Hosts[n]
		h.ServiceState, h.Data, h.DataDirEmpty = "stopped", &state.DataDir{}, true
	}
	st := liveMember(oc, "etcd-3").Status
	st.Leader, st.RaftAppliedIndex, st.RaftIndex = 0, 500, 510
	return oc
}

func TestMakeQuorumLoss(t *testing.T) {
	tests := map[string]struct {
		live     func() *state.Cluster
		recover  bool
		steps    []string
		refusals []string
		warnings []string
		detail   []string // in the first refusal's or warning's detail
	}{
		"refused without --recover, naming the survivor and the command": {
			live:     lostTwo,
			refusals: []string{"Quorum lost (etcd-3)"},
			detail:   []string{"etcdform plan --recover", "The survivor is etcd-3", "applied raft index 500", "10 entries after 500 are LOST"},
		},
		"--recover: stop the others, recover from the survivor, add them back": {
			live:    lostTwo,
			recover: true,
			steps: []string{"snapshot  3/-1",
				"stop-member etcd-1 3/-1", "stop-member etcd-2 3/-1", "recover-survivor etcd-3 1/0",
				"add-learner etcd-1 1/0", "promote etcd-1 2/0", "add-learner etcd-2 2/0", "promote etcd-2 3/0"},
			warnings: []string{"Recovery from a lost quorum (etcd-3)"},
			detail:   []string{"DATA LOSS", "applied raft index 500"},
		},
		"members that can be started with their data: started, not recovered": {
			live: func() *state.Cluster {
				oc := lostTwo()
				oc.Hosts["etcd-1"].Data = &state.DataDir{HasWAL: true, MemberID: 0x101, ClusterID: 0xc1}
				return oc
			},
			recover: true,
			steps: []string{"snapshot  3/-1", "start-member etcd-1 3/-1",
				"remove-member etcd-2 2/0", "add-learner etcd-2 2/0", "promote etcd-2 3/0"},
			warnings: []string{"No leader observed", "Member down (etcd-1)", "Member rebuilt (etcd-2)"},
		},
		"the survivor is the one with the highest applied index": {
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3, 4, 5), 1)
				oc.LeaderID = 0
				for _, n := range []string{"etcd-1", "etcd-2", "etcd-3"} {
					m := liveMember(oc, n)
					m.Status, m.StatusError = nil, "connection refused"
					h := oc.Hosts[n]
					h.ServiceState, h.Data, h.DataDirEmpty = "stopped", &state.DataDir{}, true
				}
				liveMember(oc, "etcd-4").Status.RaftAppliedIndex = 900
				liveMember(oc, "etcd-5").Status.RaftAppliedIndex = 901
				for _, n := range []string{"etcd-4", "etcd-5"} {
					liveMember(oc, n).Status.Leader = 0
				}
				return oc
			},
			refusals: []string{"Quorum lost (etcd-5)"},
			detail:   []string{"The survivor is etcd-5"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			live := tc.live()
			c := testCluster(1, 2, 3)
			if len(live.Members) == 5 {
				c = testCluster(1, 2, 3, 4, 5)
			}
			p := Make(config(c), observed(live), Options{Recover: tc.recover})
			checkBrief(t, p, tc.steps, tc.refusals, tc.warnings)
			msgs := append(append([]Warning{}, p.Refusals...), p.Warnings...)
			for _, want := range tc.detail {
				if len(msgs) == 0 || !strings.Contains(msgs[0].Detail, want) {
					t.Errorf("first message lacks %q: %+v", want, msgs)
				}
			}
			if p.Meta.Recover != tc.recover {
				t.Errorf("Meta.Recover = %v, want %v", p.Meta.Recover, tc.recover)
			}
		})
	}
}

// TestRecoverSurvivorStep: the survivor's config names it alone, with a
// new token; the plan binds to the applied indexes it saw.
func TestRecoverSurvivorStep(t *testing.T) {
	p := Make(config(testCluster(1, 2, 3)), observed(lostTwo()), Options{Recover: true})
	var s *Step
	for i := range p.Steps {
		if p.Steps[i].Action == RecoverSurvivor {
			s = &p.Steps[i]
		}
	}
	if s == nil {
		t.Fatalf("no recover-survivor step: %v", brief(p))
	}
	for _, want := range []string{"initial-cluster: etcd-3=http://10.0.0.3:2380", "initial-cluster-token: lab-after-c1", "initial-cluster-state: new"} {
		if !strings.Contains(string(s.Config), want) {
			t.Errorf("survivor config lacks %q:\n%s", want, s.Config)
		}
	}
	if got := p.Fingerprint.Clusters[0].Leaderless; got != "etcd-3=500" {
		t.Errorf("fingerprint leaderless = %q, want etcd-3=500", got)
	}
	moved := lostTwo()
	liveMember(moved, "etcd-3").Status.RaftAppliedIndex = 501
	if d := state.DiffFingerprint(p.Fingerprint, state.FingerprintOf(observed(moved))); len(d) != 1 || !strings.Contains(d[0], "etcd-3=500 -> etcd-3=501") {
		t.Errorf("differences after the index moved: %q", d)
	}
}
