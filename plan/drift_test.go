package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// TestMakeRestartPending covers issue 13 #3: a member whose process
// started before its config file was last written (an apply stopped
// between write-config and restart) is restarted, in the rolling order.
func TestMakeRestartPending(t *testing.T) {
	started := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	// times sets each member's process start and file time (seconds
	// after started); a member not listed has neither.
	times := func(oc *state.Cluster, files map[string]float64) {
		for name, after := range files {
			h := oc.Hosts[name]
			h.ProcessStart = started
			h.ConfigModTime = started.Add(time.Duration(after * float64(time.Second)))
		}
	}
	tests := map[string]struct {
		desired *schema.Cluster
		files   map[string]float64
		edit    func(oc *state.Cluster)
		steps   []string
		changes []Change // of the last restart
	}{
		"file newer than the process: restart": {
			files:   map[string]float64{"etcd-2": 60, "etcd-3": -60, "etcd-1": 0},
			steps:   []string{"snapshot  3/1", "restart etcd-2 3/0"},
			changes: []Change{{Attr: "running-config", Before: "process started 2026-12-02T06:00:00Z", After: "config file of 2026-12-02T06:01:00Z"}},
		},
		"file as old as the process: nothing": {
			files: map[string]float64{"etcd-1": 0, "etcd-2": 0, "etcd-3": 0},
		},
		"file older than the process: nothing": {
			files: map[string]float64{"etcd-1": -3600, "etcd-2": -1, "etcd-3": -0.01},
		},
		"file written just before a start within the clock's grain: nothing": {
			files: map[string]float64{"etcd-2": 0.05},
		},
		"times unknown: nothing": {
			files: nil,
		},
		"only the file time known: nothing": {
			files: map[string]float64{"etcd-2": 60},
			edit:  func(oc *state.Cluster) { oc.Hosts["etcd-2"].ProcessStart = time.Time{} },
		},
		"followers first, the leader last": {
			files: map[string]float64{"etcd-1": 60, "etcd-3": 60},
			steps: []string{"snapshot  3/1", "restart etcd-3 3/0", "restart etcd-1 3/0 L"},
		},
		"interrupted rolling change: the written member restarts, the others are written and restarted": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.Storage.QuotaBackendBytes = 4 << 30; return c }(),
			files:   map[string]float64{"etcd-2": 60},
			edit:    func(oc *state.Cluster) { oc.Hosts["etcd-2"].Config.QuotaBackendBytes = 4 << 30 },
			steps: []string{
				"snapshot  3/1",
				"restart etcd-2 3/0",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
		},
		"a member whose file differs gets one restart": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.Storage.SnapshotCount = 5000; return c }(),
			files:   map[string]float64{"etcd-2": 60},
			steps: []string{
				"snapshot  3/1",
				"write-config etcd-2 3/1", "restart etcd-2 3/0",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
		},
		"a stopped member is started, not restarted": {
			files: map[string]float64{"etcd-2": 60},
			edit: func(oc *state.Cluster) {
				liveMember(oc, "etcd-2").Status = nil
				oc.Hosts["etcd-2"].ServiceState = "stopped"
			},
			steps: []string{"snapshot  3/0", "start-member etcd-2 3/0"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			desired := tc.desired
			if desired == nil {
				desired = testCluster(1, 2, 3)
			}
			oc := observe(testCluster(1, 2, 3), 1)
			times(oc, tc.files)
			if tc.edit != nil {
				tc.edit(oc)
			}
			p := Make(config(desired), observed(oc), Options{})
			if diff := cmp.Diff(tc.steps, brief(p)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if len(p.Refusals) > 0 {
				t.Errorf("refusals: %v", summaries(p.Refusals))
			}
			if tc.changes != nil {
				last := p.Steps[len(p.Steps)-1]
				if diff := cmp.Diff(tc.changes, last.Changes); diff != "" {
					t.Errorf("changes of %s %s (-want +got):\n%s", last.Action, last.Member, diff)
				}
				if last.Reason == "" {
					t.Error("restart without a reason")
				}
			}
		})
	}
}

// TestMakeRefusesDataDirMove covers issue 13 #6: a new data_dir for
// members whose files name another one is refused per member, naming
// both directories and the procedure, whatever else the plan does.
func TestMakeRefusesDataDirMove(t *testing.T) {
	moved := func() *schema.Cluster { c := testCluster(1, 2, 3); c.Service.DataDir = "/srv/etcd"; return c }
	tests := map[string]struct {
		desired  *schema.Cluster
		edit     func(oc *state.Cluster)
		refusals []string
	}{
		"every running member": {
			desired:  moved(),
			refusals: []string{"Data dir change not supported (etcd-1)", "Data dir change not supported (etcd-2)", "Data dir change not supported (etcd-3)"},
		},
		"a stopped member too": {
			desired: moved(),
			edit: func(oc *state.Cluster) {
				liveMember(oc, "etcd-2").Status = nil
				oc.Hosts["etcd-2"].ServiceState = "stopped"
			},
			refusals: []string{"Data dir change not supported (etcd-1)", "Data dir change not supported (etcd-2)", "Data dir change not supported (etcd-3)"},
		},
		"members already moved by hand are not refused": {
			desired: moved(),
			edit: func(oc *state.Cluster) {
				oc.Hosts["etcd-1"].Config.DataDir = "/srv/etcd"
				oc.Hosts["etcd-3"].Config.DataDir = "/srv/etcd"
			},
			refusals: []string{"Data dir change not supported (etcd-2)"},
		},
		"with another change as well": {
			desired: func() *schema.Cluster { c := moved(); c.Storage.QuotaBackendBytes = 4 << 30; return c }(),
			edit: func(oc *state.Cluster) {
				oc.Hosts["etcd-1"].Config.DataDir = "/srv/etcd"
				oc.Hosts["etcd-2"].Config.DataDir = "/srv/etcd"
			},
			refusals: []string{"Data dir change not supported (etcd-3)"},
		},
		"the same data dir: nothing refused": {
			desired: testCluster(1, 2, 3),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			oc := observe(testCluster(1, 2, 3), 1)
			if tc.edit != nil {
				tc.edit(oc)
			}
			p := Make(config(tc.desired), observed(oc), Options{})
			if diff := cmp.Diff(tc.refusals, summaries(p.Refusals)); diff != "" {
				t.Errorf("refusals (-want +got):\n%s", diff)
			}
			for _, r := range p.Refusals {
				for _, want := range []string{"/var/lib/etcd", "/srv/etcd", "/var/lib/etcd/member", "stop the service", r.Member} {
					if !strings.Contains(r.Detail, want) {
						t.Errorf("refusal for %s does not say %q: %s", r.Member, want, r.Detail)
					}
				}
			}
		})
	}
}

// TestMakeRemoval covers issue 13 #7 in the planner: what a removal says
// it does with the member's host, and the warning when a shrink passes
// through a point that tolerates no failure.
func TestMakeRemoval(t *testing.T) {
	tests := map[string]struct {
		desired  *schema.Cluster
		live     *schema.Cluster
		edit     func(oc *state.Cluster)
		steps    []string
		warnings []string
		reason   []string // substrings of the first removal's reason
		noReason []string
	}{
		"reachable host: stopped, disabled, data moved aside": {
			desired:  testCluster(1, 2, 3),
			live:     testCluster(1, 2, 3, 4, 5),
			steps:    []string{"snapshot  5/2", "remove-member etcd-4 4/1", "remove-member etcd-5 3/1"},
			reason:   []string{"remove it from the member list", "stopped and disabled", "member/ is moved aside"},
			noReason: []string{"unreachable", "cannot be reached", "only the member list"},
		},
		"unreachable host: only the member list, and what to do by hand": {
			desired: testCluster(1, 2, 3),
			live:    testCluster(1, 2, 3, 4, 5),
			edit: func(oc *state.Cluster) {
				oc.Hosts["etcd-4"] = &state.Host{Member: "etcd-4", Address: "10.0.0.4", Error: "dial tcp: no route to host"}
			},
			steps:  []string{"snapshot  5/2", "remove-member etcd-4 4/1 hostdown", "remove-member etcd-5 3/1"},
			reason: []string{"10.0.0.4 cannot be reached", "no route to host", "only the member list changes", "/var/lib/etcd/member aside by hand"},
		},
		"host not known: only the member list": {
			desired: testCluster(1, 2, 3),
			live:    testCluster(1, 2, 3, 4, 5),
			edit:    func(oc *state.Cluster) { delete(oc.Hosts, "etcd-4") },
			steps:   []string{"snapshot  5/2", "remove-member etcd-4 4/1 hostdown", "remove-member etcd-5 3/1"},
			reason:  []string{"host is not known", "only the member list changes"},
		},
		"3 to 1 warns at the first point tolerating no failure": {
			desired:  testCluster(1),
			live:     testCluster(1, 2, 3),
			steps:    []string{"snapshot  3/1", "remove-member etcd-2 2/0", "remove-member etcd-3 1/0"},
			warnings: []string{"Fault tolerance drops to zero (etcd-2) #2"},
		},
		"3 to 1 with fault_tolerance = 0 set: accepted, no warning": {
			desired: func() *schema.Cluster { c := testCluster(1); c.FaultTolerance = 0; return c }(),
			live:    testCluster(1, 2, 3),
			steps:   []string{"snapshot  3/1", "remove-member etcd-2 2/0", "remove-member etcd-3 1/0"},
		},
		"5 to 3 keeps a tolerance of 1: no warning": {
			desired: testCluster(1, 2, 3),
			live:    testCluster(1, 2, 3, 4, 5),
			steps:   []string{"snapshot  5/2", "remove-member etcd-4 4/1", "remove-member etcd-5 3/1"},
		},
		"a rolling restart of 3 tolerates 0 but changes no membership: no warning": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.Storage.SnapshotCount = 5000; return c }(),
			live:    testCluster(1, 2, 3),
			steps: []string{
				"snapshot  3/1",
				"write-config etcd-2 3/1", "restart etcd-2 3/0",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			oc := observe(tc.live, 1)
			if tc.edit != nil {
				tc.edit(oc)
			}
			p := Make(config(tc.desired), observed(oc), Options{})
			if diff := cmp.Diff(tc.steps, brief(p)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.warnings, summaries(p.Warnings)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if len(p.Refusals) > 0 {
				t.Errorf("refusals: %v", summaries(p.Refusals))
			}
			for _, w := range p.Warnings {
				for _, want := range []string{"2 voters tolerating 0 failures", "leaves 1 voters", "fault_tolerance = 0"} {
					if !strings.Contains(w.Detail, want) {
						t.Errorf("warning does not say %q: %s", want, w.Detail)
					}
				}
			}
			for _, s := range p.Steps {
				if s.Action != RemoveMember {
					continue
				}
				for _, want := range tc.reason {
					if !strings.Contains(s.Reason, want) {
						t.Errorf("reason of removing %s lacks %q: %s", s.Member, want, s.Reason)
					}
				}
				for _, not := range tc.noReason {
					if strings.Contains(s.Reason, not) {
						t.Errorf("reason of removing %s says %q: %s", s.Member, not, s.Reason)
					}
				}
				break
			}
		})
	}
}
