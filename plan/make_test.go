package plan_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/etcdconf"
	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/plantest"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

var (
	testCluster = plantest.Cluster
	observe     = plantest.Observe
	config      = plantest.Config
	observed    = plantest.Observed
)

// brief is the part of a step the table tests compare: "action member
// voters/tolerated", plus "L" when the member leads.
func brief(p *Plan) []string {
	var out []string
	for _, s := range p.Steps {
		line := fmt.Sprintf("%s %s %d/%d", s.Action, s.Member, s.Voters, s.Tolerated)
		if s.Leader {
			line += " L"
		}
		if s.HostDown {
			line += " hostdown"
		}
		out = append(out, line)
	}
	return out
}

func summaries(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		s := w.Summary
		if w.Member != "" {
			s += " (" + w.Member + ")"
		}
		if w.Step != 0 {
			s += fmt.Sprintf(" #%d", w.Step)
		}
		out = append(out, s)
	}
	return out
}

// checkBrief compares p's steps (brief), refusals and warnings
// (summaries) with the wanted ones.
func checkBrief(t *testing.T, p *Plan, steps, refusals, warnings []string) {
	t.Helper()
	if diff := cmp.Diff(steps, brief(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(refusals, summaries(p.Refusals)); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(warnings, summaries(p.Warnings)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func liveMember(oc *state.Cluster, name string) *state.Member { return oc.Member(name) }

func TestMake(t *testing.T) {
	tests := map[string]struct {
		desired  *schema.Cluster
		live     func() *state.Cluster
		opts     Options
		steps    []string
		refusals []string
		warnings []string
	}{
		"converged cluster gives an empty plan": {
			desired: testCluster(1, 2, 3),
			live:    func() *state.Cluster { return observe(testCluster(1, 2, 3), 1) },
		},
		"scale 3 to 5 adds one learner at a time": {
			desired: testCluster(1, 2, 3, 4, 5),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				// The new hosts are observed, empty.
				for _, i := range []int{4, 5} {
					n := fmt.Sprintf("etcd-%d", i)
					oc.Hosts[n] = &state.Host{Member: n, Reachable: true, DataDirEmpty: true, ServiceState: "stopped", BinaryVersion: "3.6.16"}
				}
				return oc
			},
			steps: []string{
				"snapshot  3/1",
				"add-learner etcd-4 3/1", "promote etcd-4 4/1",
				"add-learner etcd-5 4/1", "promote etcd-5 5/1",
			},
		},
		"scale 5 to 3 removes followers then the leader": {
			desired: testCluster(1, 2, 3),
			live:    func() *state.Cluster { return observe(testCluster(1, 2, 3, 4, 5), 4) },
			steps: []string{
				"snapshot  5/2",
				"remove-member etcd-5 4/1",
				"remove-member etcd-4 3/1 L",
			},
		},
		"replacing a healthy member adds before it removes": {
			desired: testCluster(1, 2, 4),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				oc.Hosts["etcd-4"] = &state.Host{Member: "etcd-4", Reachable: true, DataDirEmpty: true}
				return oc
			},
			steps: []string{
				"snapshot  3/1",
				"add-learner etcd-4 3/1", "promote etcd-4 4/1",
				"remove-member etcd-3 3/1",
			},
		},
		"dead member is removed before its replacement is added": {
			desired: testCluster(1, 2, 4),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				m := liveMember(oc, "etcd-3")
				m.Status, m.StatusError = nil, "context deadline exceeded"
				oc.Hosts["etcd-3"] = &state.Host{Member: "etcd-3", Reachable: false, Error: "dial tcp: no route to host"}
				oc.Hosts["etcd-4"] = &state.Host{Member: "etcd-4", Reachable: true, DataDirEmpty: true}
				return oc
			},
			steps: []string{
				"snapshot  3/0",
				"remove-member etcd-3 2/0 hostdown",
				"add-learner etcd-4 2/0", "promote etcd-4 3/0",
			},
		},
		"config change on 3 restarts the leader last": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.Storage.QuotaBackendBytes = 4 << 30; return c }(),
			live:    func() *state.Cluster { return observe(testCluster(1, 2, 3), 1) },
			steps: []string{
				"snapshot  3/1",
				"write-config etcd-2 3/1", "restart etcd-2 3/0",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
		},
		"config change on 5 restarts the leader last": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3, 4, 5); c.Storage.SnapshotCount = 5000; return c }(),
			live:    func() *state.Cluster { return observe(testCluster(1, 2, 3, 4, 5), 3) },
			steps: []string{
				"snapshot  5/2",
				"write-config etcd-1 5/2", "restart etcd-1 5/1",
				"write-config etcd-2 5/2", "restart etcd-2 5/1",
				"write-config etcd-4 5/2", "restart etcd-4 5/1",
				"write-config etcd-5 5/2", "restart etcd-5 5/1",
				"write-config etcd-3 5/2 L", "restart etcd-3 5/1 L",
			},
		},
		"member with errors is restarted first": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.Storage.SnapshotCount = 5000; return c }(),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				liveMember(oc, "etcd-3").Status.Errors = []string{"slow fdatasync"}
				return oc
			},
			steps: []string{
				"snapshot  3/1",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-2 3/1", "restart etcd-2 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
			warnings: []string{"Member reports errors (etcd-3)"},
		},
		"member down is started first": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.Storage.SnapshotCount = 5000; return c }(),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				m := liveMember(oc, "etcd-2")
				m.Status, m.StatusError = nil, "connection refused"
				oc.Hosts["etcd-2"].ServiceState = "stopped"
				return oc
			},
			steps: []string{
				"snapshot  3/0",
				"write-config etcd-2 3/0", "start-member etcd-2 3/0",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
			warnings: []string{"Member down (etcd-2)"},
		},
		"member down on an unreachable host is refused": {
			desired: testCluster(1, 2, 3),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				liveMember(oc, "etcd-2").Status = nil
				oc.Hosts["etcd-2"] = &state.Host{Member: "etcd-2", Error: "no route to host"}
				return oc
			},
			refusals: []string{"Member down and host unreachable (etcd-2)"},
			warnings: []string{"Member down (etcd-2)"},
		},
		"fault tolerance budget refuses restarts on 3 members": {
			desired: func() *schema.Cluster {
				c := testCluster(1, 2, 3)
				c.FaultTolerance = 1
				c.Storage.SnapshotCount = 5000
				return c
			}(),
			live: func() *state.Cluster { return observe(testCluster(1, 2, 3), 1) },
			steps: []string{
				"snapshot  3/1",
				"write-config etcd-2 3/1", "restart etcd-2 3/0",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
			refusals: []string{
				"Step below fault tolerance budget (etcd-2) #3",
				"Step below fault tolerance budget (etcd-3) #5",
				"Step below fault tolerance budget (etcd-1) #7",
			},
		},
		"fault tolerance budget of 1 holds on 5 members": {
			desired: func() *schema.Cluster {
				c := testCluster(1, 2, 3, 4, 5)
				c.FaultTolerance = 1
				return c
			}(),
			live: func() *state.Cluster { return observe(testCluster(1, 2, 3, 4, 5), 1) },
		},
		"budget refuses removing to 3 when 2 failures are required": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.FaultTolerance = 2; return c }(),
			live:    func() *state.Cluster { return observe(testCluster(1, 2, 3, 4, 5), 1) },
			steps: []string{
				"snapshot  5/2",
				"remove-member etcd-4 4/1",
				"remove-member etcd-5 3/1",
			},
			refusals: []string{
				"Step below fault tolerance budget (etcd-4) #2",
				"Step below fault tolerance budget (etcd-5) #3",
			},
		},
		"a healthy learner is promoted before another add": {
			desired: testCluster(1, 2, 3, 4, 5),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3, 4), 1)
				m := liveMember(oc, "etcd-4")
				m.IsLearner, m.Status.IsLearner = true, true
				oc.Hosts["etcd-5"] = &state.Host{Member: "etcd-5", Reachable: true, DataDirEmpty: true}
				return oc
			},
			steps: []string{
				"snapshot  3/1",
				"promote etcd-4 4/1",
				"add-learner etcd-5 4/1", "promote etcd-5 5/1",
			},
			warnings: []string{"Learner found (etcd-4)"},
		},
		"an unstarted learner is removed and added again": {
			desired: testCluster(1, 2, 3, 4, 5),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				// Added by an interrupted apply, never started: no name.
				oc.Members = append(oc.Members, state.Member{ID: 0x104, PeerURLs: []string{"http://10.0.0.4:2380"}, IsLearner: true})
				for _, i := range []int{4, 5} {
					n := fmt.Sprintf("etcd-%d", i)
					oc.Hosts[n] = &state.Host{Member: n, Reachable: true, DataDirEmpty: true}
				}
				return oc
			},
			steps: []string{
				"snapshot  3/1",
				"remove-member etcd-4 3/1",
				"add-learner etcd-4 3/1", "promote etcd-4 4/1",
				"add-learner etcd-5 4/1", "promote etcd-5 5/1",
			},
			warnings: []string{"Learner not caught up (etcd-4)"},
		},
		"quota at the DB size is refused": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.Storage.QuotaBackendBytes = 1 << 30; return c }(),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				liveMember(oc, "etcd-2").Status.DBSize = 1<<30 - 1<<20
				return oc
			},
			steps: []string{
				"snapshot  3/1",
				"write-config etcd-2 3/1", "restart etcd-2 3/0",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
			refusals: []string{"Quota too small for the data"},
		},
		"quota above the DB size plus margin is accepted": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.Storage.QuotaBackendBytes = 1 << 30; return c }(),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				liveMember(oc, "etcd-2").Status.DBSize = 900 << 20
				return oc
			},
			steps: []string{
				"snapshot  3/1",
				"write-config etcd-2 3/1", "restart etcd-2 3/0",
				"write-config etcd-3 3/1", "restart etcd-3 3/0",
				"write-config etcd-1 3/1 L", "restart etcd-1 3/0 L",
			},
			warnings: []string{"DB close to quota (etcd-2)"}, // 88% of the quota
		},
		"shrinking to 2 is refused": {
			desired:  testCluster(1, 2),
			live:     func() *state.Cluster { return observe(testCluster(1, 2, 3), 1) },
			steps:    []string{"snapshot  3/1", "remove-member etcd-3 2/0"},
			refusals: []string{"Even number of voters"},
			warnings: []string{"Fault tolerance drops to zero (etcd-3) #2"},
		},
		"shrinking to 2 is allowed by the cluster": {
			desired:  func() *schema.Cluster { c := testCluster(1, 2); c.AllowEven = true; return c }(),
			live:     func() *state.Cluster { return observe(testCluster(1, 2, 3), 1) },
			steps:    []string{"snapshot  3/1", "remove-member etcd-3 2/0"},
			warnings: []string{"Fault tolerance drops to zero (etcd-3) #2"},
		},
		"growing to 4 is allowed by the option": {
			desired: testCluster(1, 2, 3, 4),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				oc.Hosts["etcd-4"] = &state.Host{Member: "etcd-4", Reachable: true, DataDirEmpty: true}
				return oc
			},
			opts:  Options{AllowEven: true},
			steps: []string{"snapshot  3/1", "add-learner etcd-4 3/1", "promote etcd-4 4/1"},
		},
		"a new member's host must be reachable": {
			desired: testCluster(1, 2, 3, 4, 5),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				oc.Hosts["etcd-4"] = &state.Host{Member: "etcd-4", Reachable: true, DataDirEmpty: true}
				oc.Hosts["etcd-5"] = &state.Host{Member: "etcd-5", Error: "connection refused"}
				return oc
			},
			steps:    []string{"snapshot  3/1", "add-learner etcd-4 3/1", "promote etcd-4 4/1"},
			refusals: []string{"New member's host unreachable (etcd-5)"},
		},
		"unmanaged keys alone are reported, not written": {
			desired: testCluster(1, 2, 3),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				oc.Hosts["etcd-3"].ConfigUnknown = []string{"enable-pprof"}
				return oc
			},
			warnings: []string{"Unmanaged config keys (etcd-3)"},
		},
		"a hand-edited file shows as drift on that member": {
			desired: testCluster(1, 2, 3),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				oc.Hosts["etcd-3"].Config.HeartbeatInterval = 250
				oc.Hosts["etcd-3"].ConfigUnknown = []string{"enable-pprof"}
				return oc
			},
			steps:    []string{"snapshot  3/1", "write-config etcd-3 3/1", "restart etcd-3 3/0"},
			warnings: []string{"Unmanaged config keys dropped (etcd-3)"},
		},
		"a missing config file is written": {
			desired: testCluster(1, 2, 3),
			live: func() *state.Cluster {
				oc := observe(testCluster(1, 2, 3), 1)
				h := oc.Hosts["etcd-2"]
				h.ConfigExists, h.Config = false, nil
				return oc
			},
			steps: []string{"snapshot  3/1", "write-config etcd-2 3/1", "restart etcd-2 3/0"},
		},
		"version skew is a warning": {
			desired: func() *schema.Cluster { c := testCluster(1, 2, 3); c.EtcdVersion = "3.6.17"; return c }(),
			live:    func() *state.Cluster { return observe(testCluster(1, 2, 3), 1) },
			warnings: []string{
				"Binary version differs (etcd-1)", "Binary version differs (etcd-2)", "Binary version differs (etcd-3)",
			},
		},
		"an unreachable cluster is refused": {
			desired:  testCluster(1, 2, 3),
			live:     func() *state.Cluster { return &state.Cluster{Name: "lab", Error: "context deadline exceeded"} },
			refusals: []string{"Cluster not reachable"},
		},
		"a peer URL change is refused": {
			desired: func() *schema.Cluster {
				c := testCluster(1, 2, 3)
				c.Members[1].PeerURL = "http://10.0.0.22:2380"
				return c
			}(),
			live:     func() *state.Cluster { return observe(testCluster(1, 2, 3), 1) },
			refusals: []string{"Peer URL change not supported (etcd-2)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := Make(config(tc.desired), observed(tc.live()), tc.opts)
			checkBrief(t, p, tc.steps, tc.refusals, tc.warnings)
			for i, s := range p.Steps {
				if s.Cluster != "lab" {
					t.Errorf("step %d: cluster %q", i+1, s.Cluster)
				}
			}
		})
	}
}

func TestMakeStepDetails(t *testing.T) {
	c := testCluster(1, 2, 3)
	c.Storage.QuotaBackendBytes = 4 << 30
	oc := observe(testCluster(1, 2, 3), 1)
	oc.Hosts["etcd-2"].ConfigUnknown = []string{"enable-pprof"}
	p := Make(config(c), observed(oc), Options{Meta: Meta{ToolVersion: "test"}})

	if p.Meta.ConfigHash != "cafe" || p.Meta.ConfigDir != "/cfg" || p.Meta.ToolVersion != "test" {
		t.Errorf("meta = %+v", p.Meta)
	}
	w := p.Steps[1] // write-config etcd-2
	if w.Action != WriteConfig || w.Member != "etcd-2" || w.MemberID != 0x102 {
		t.Fatalf("step 2 = %s %s", w.Action, w.Member)
	}
	want := []Change{
		{Attr: "enable-pprof", Before: "(unmanaged)"},
		{Attr: "quota-backend-bytes", Before: "2147483648", After: "4294967296"},
	}
	if diff := cmp.Diff(want, w.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if !strings.Contains(w.Reason, "DROPS unmanaged keys enable-pprof") {
		t.Errorf("reason does not say the unmanaged key is dropped: %q", w.Reason)
	}
	parsed, err := etcdconf.Parse(w.Config)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.File.QuotaBackendBytes != 4<<30 {
		t.Errorf("written quota = %d", parsed.File.QuotaBackendBytes)
	}
	// Bootstrap-only keys are kept as observed.
	if got := parsed.File.InitialClusterState; got != "new" {
		t.Errorf("initial-cluster-state = %q, want the observed %q", got, "new")
	}

	// A leader removal says leadership moves first.
	p = Make(config(testCluster(1, 2, 3)), observed(observe(testCluster(1, 2, 3, 4, 5), 5)), Options{})
	last := p.Steps[len(p.Steps)-1]
	if last.Action != RemoveMember || !last.Leader || !strings.Contains(last.Reason, "leadership moves") {
		t.Errorf("last step = %+v", last)
	}
	// A new member's template says existing.
	oc = observe(testCluster(1, 2, 3), 1)
	oc.Hosts["etcd-4"] = &state.Host{Member: "etcd-4", Reachable: true, DataDirEmpty: true}
	p = Make(config(testCluster(1, 2, 3, 4, 5)), observed(oc), Options{})
	add := p.Steps[1]
	if add.Action != AddLearner || add.PeerURL != "http://10.0.0.4:2380" || !strings.Contains(string(add.Config), "initial-cluster-state: existing") {
		t.Errorf("add step = %+v\n%s", add, add.Config)
	}
}

func TestFingerprint(t *testing.T) {
	c := testCluster(1, 2, 3)
	base := state.FingerprintOf(observed(observe(c, 1)))

	moved := observe(c, 2)
	liveMember(moved, "etcd-1").Status.RaftIndex = 999
	liveMember(moved, "etcd-1").Status.DBSize = 5 << 20
	if lines := state.DiffFingerprint(base, state.FingerprintOf(observed(moved))); lines != nil {
		t.Errorf("leader/index/size change made the plan stale: %q", lines)
	}

	edited := observe(c, 1)
	edited.Hosts["etcd-2"].ConfigHash = "cd34" + strings.Repeat("0", 60)
	edited.Members = edited.Members[:2] // etcd-3 removed by hand, its host still there
	edited.Hosts["etcd-4"] = &state.Host{Member: "etcd-4", Reachable: true}
	got := state.DiffFingerprint(base, state.FingerprintOf(observed(edited)))
	want := []string{
		"cluster lab: member etcd-3 left the member list",
		"cluster lab: member etcd-4 was added",
		"cluster lab: member etcd-2 config hash changed (00000000.. -> cd340000..)",
	}
	if diff := cmp.Diff(want, got, cmpSortStrings); diff != "" {
		t.Errorf("diff lines (-want +got):\n%s", diff)
	}
}

var cmpSortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})
