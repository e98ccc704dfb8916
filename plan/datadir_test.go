package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

// downWith is a converged 3-member lab whose etcd-2 is down (service
// stopped, endpoint not answering) with data dir d and, when noConfig,
// no config file.
func downWith(d *state.DataDir, noConfig bool) *state.Cluster {
	oc := observe(testCluster(1, 2, 3), 1)
	m := liveMember(oc, "etcd-2")
	m.Status, m.StatusError = nil, "connection refused"
	h := oc.Hosts["etcd-2"]
	h.ServiceState, h.Data = "stopped", d
	if noConfig {
		h.ConfigExists, h.ConfigContent, h.Config, h.ConfigHash = false, nil, nil, ""
	}
	if !d.HasWAL {
		h.DataDirEmpty = true
	}
	return oc
}

func TestMakeDataDirs(t *testing.T) {
	tests := map[string]struct {
		live     *state.Cluster
		budget   int
		steps    []string
		refusals []string
		warnings []string
		detail   []string // in the first refusal's detail
	}{
		"down with its data intact is started": {
			live:     downWith(&state.DataDir{HasWAL: true, MemberID: 0x102, ClusterID: 0xc1}, false),
			steps:    []string{"snapshot  3/0", "start-member etcd-2 3/0"},
			warnings: []string{"Member down (etcd-2)"},
		},
		"rebuilt host: remove, add a learner under the same name, promote": {
			live: downWith(&state.DataDir{}, true),
			steps: []string{"snapshot  3/0",
				"remove-member etcd-2 2/0", "add-learner etcd-2 2/0", "promote etcd-2 3/0"},
			warnings: []string{"Member rebuilt (etcd-2)"},
		},
		"rebuilt host whose data dir holds more than member/ is refused before any removal": {
			live: func() *state.Cluster {
				oc := downWith(&state.DataDir{}, true)
				h := oc.Hosts["etcd-2"]
				h.DataDirEmpty, h.DataDirBytes, h.DataDirStray = false, 4096, true
				return oc
			}(),
			steps: []string{"snapshot  3/0",
				"remove-member etcd-2 2/0", "add-learner etcd-2 2/0", "promote etcd-2 3/0"},
			refusals: []string{"Rebuilt member's data dir not empty (etcd-2)"},
			warnings: []string{"Member rebuilt (etcd-2)"},
			detail:   []string{"besides member/", "Move those entries aside"},
		},
		"rebuilt host below a budget of 1 is refused": {
			live:   downWith(&state.DataDir{}, true),
			budget: 1,
			steps: []string{"snapshot  3/0",
				"remove-member etcd-2 2/0", "add-learner etcd-2 2/0", "promote etcd-2 3/0"},
			refusals: []string{"Step below fault tolerance budget (etcd-2) #2", "Step below fault tolerance budget (etcd-2) #3", "Step below fault tolerance budget (etcd-2) #4"},
			warnings: []string{"Member rebuilt (etcd-2)"},
		},
		"data dir of another cluster is refused naming both cluster IDs": {
			live:     downWith(&state.DataDir{HasWAL: true, MemberID: 0x777, ClusterID: 0xdead}, false),
			steps:    []string{"snapshot  3/0", "start-member etcd-2 3/0"},
			refusals: []string{"Data dir of another cluster (etcd-2)"},
			warnings: []string{"Member down (etcd-2)"},
			detail:   []string{"member 777 of cluster dead", "cluster c1", "member 102"},
		},
		"data dir of another member is refused naming both member IDs": {
			live:     downWith(&state.DataDir{HasWAL: true, MemberID: 0x103, ClusterID: 0xc1}, false),
			steps:    []string{"snapshot  3/0", "start-member etcd-2 3/0"},
			refusals: []string{"Data dir of another member (etcd-2)"},
			warnings: []string{"Member down (etcd-2)"},
			detail:   []string{"ID 102", "holds member 103"},
		},
		"unreadable WAL: started, with a warning": {
			live:     downWith(&state.DataDir{HasWAL: true, Error: "CRC mismatch"}, false),
			steps:    []string{"snapshot  3/0", "start-member etcd-2 3/0"},
			warnings: []string{"Data dir unreadable (etcd-2)", "Member down (etcd-2)"},
		},
		"a learner left down with its data: removed (data moved aside) and added again": {
			live: func() *state.Cluster {
				oc := downWith(&state.DataDir{HasWAL: true, MemberID: 0x102, ClusterID: 0xc1}, false)
				liveMember(oc, "etcd-2").IsLearner = true
				oc.Hosts["etcd-2"].DataDirBytes = 1 << 20
				return oc
			}(),
			steps:    []string{"snapshot  2/0", "remove-member etcd-2 2/0", "add-learner etcd-2 2/0", "promote etcd-2 3/0"},
			warnings: []string{"Learner not caught up (etcd-2)"},
		},
		"a running member with no WAL is left alone": {
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				oc.Hosts["etcd-2"].Data = &state.DataDir{}
				return oc
			}(),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := testCluster(1, 2, 3)
			c.FaultTolerance = tc.budget
			p := Make(config(c), observed(tc.live), Options{})
			checkBrief(t, p, tc.steps, tc.refusals, tc.warnings)
			for _, want := range tc.detail {
				if len(p.Refusals) == 0 || !strings.Contains(p.Refusals[0].Detail, want) {
					t.Errorf("refusal detail lacks %q: %+v", want, p.Refusals)
				}
			}
		})
	}
}

// TestMakeRebuiltStepDetails: the removal names the old ID, the learner
// is added under the same name and peer URL with a full config, and the
// plan binds to the data dir it saw.
func TestMakeRebuiltStepDetails(t *testing.T) {
	oc := downWith(&state.DataDir{}, true)
	p := Make(config(testCluster(1, 2, 3)), observed(oc), Options{})
	if len(p.Steps) != 4 {
		t.Fatalf("steps %v", brief(p))
	}
	rm, add := p.Steps[1], p.Steps[2]
	if rm.MemberID != 0x102 || !strings.Contains(rm.Reason, "holds no WAL") || rm.HostDown {
		t.Errorf("removal: ID %x, host down %v, reason %q", rm.MemberID, rm.HostDown, rm.Reason)
	}
	if add.Member != "etcd-2" || add.PeerURL != "http://10.0.0.2:2380" || !strings.Contains(string(add.Config), "initial-cluster-state: existing") {
		t.Errorf("add: %s %s config:\n%s", add.Member, add.PeerURL, add.Config)
	}
	var got string
	for _, m := range p.Fingerprint.Clusters[0].Members {
		if m.Name == "etcd-2" {
			got = m.DataDir
		}
	}
	if got != "no WAL" {
		t.Errorf("fingerprint data dir of etcd-2 = %q, want \"no WAL\"", got)
	}
}

// TestFingerprintDataDir: a data dir that changes between plan and apply
// makes the plan stale, and the difference says what it held.
func TestFingerprintDataDir(t *testing.T) {
	before := downWith(&state.DataDir{}, true)
	after := downWith(&state.DataDir{HasWAL: true, MemberID: 0x102, ClusterID: 0xc1}, true)
	diffs := state.DiffFingerprint(state.FingerprintOf(observed(before)), state.FingerprintOf(observed(after)))
	want := []string{"cluster lab: member etcd-2 data dir changed (no WAL -> member 102 of cluster c1)"}
	if diff := cmp.Diff(want, diffs); diff != "" {
		t.Errorf("differences (-want +got):\n%s", diff)
	}
}
