package plan_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// compareFixture plans a quota change on a 3-member cluster whose backup
// job is installed on etcd-1 (with the etcdform binary uploaded), against
// an observation where etcd-<leader> leads.
func compareFixture(leader int) (*schema.Config, func() *state.Observed, Options) {
	c := testCluster(1, 2, 3)
	c.Storage.QuotaBackendBytes = 4 << 30
	c.Backup = &schema.Backup{Schedule: "0 */6 * * *", On: []string{"etcd-1"}, Destination: "file:///var/backups/etcd", Recipient: "age1x"}
	obs := func() *state.Observed {
		oc := observe(testCluster(1, 2, 3), leader)
		oc.LeaderID = uint64(0x100 + leader)
		return observed(oc)
	}
	return config(c), obs, Options{Tool: Tool{Path: "/usr/local/bin/etcdform", SHA256: "7001"}}
}

func TestCompareSteps(t *testing.T) {
	cfg, obs, opts := compareFixture(1)
	saved := Make(cfg, obs(), opts)
	if got := brief(saved); !slices.Contains(got, "restart etcd-1 3/0 L") || len(saved.Steps) != 8 {
		t.Fatalf("fixture: %q", got)
	}
	find := func(steps []Step, a Action, member string) int {
		for i, s := range steps {
			if s.Action == a && s.Member == member {
				return i
			}
		}
		t.Fatalf("no %s %s in %q", a, member, brief(saved))
		return -1
	}
	tests := map[string]struct {
		edit   func(steps []Step) []Step // of a copy of the saved steps
		leader int                       // of the fresh observation
		want   []string
	}{
		"unchanged":      {leader: 1},
		"leader changed": {leader: 3},
		"leader lost":    {leader: 0},
		"reason and leader flag edited": {leader: 2, edit: func(s []Step) []Step {
			i := find(s, Restart, "etcd-2")
			s[i].Reason = "whatever"
			s[i].Leader = false
			return s
		}},
		"config edited": {leader: 1, edit: func(s []Step) []Step {
			i := find(s, WriteConfig, "etcd-2")
			s[i].Config = append(slices.Clone(s[i].Config), "enable-pprof: true\n"...)
			return s
		}, want: []string{`step 2 (write-config etcd-2): the config to write differs: the plan has "enable-pprof: true" instead`}},
		"observed config edited": {leader: 1, edit: func(s []Step) []Step {
			i := find(s, WriteConfig, "etcd-3")
			s[i].ConfigObserved = slices.Clone(s[i].Config)
			return s
		}, want: []string{`step 4 (write-config etcd-3): the config file shown as on the host differs from the one there now: the plan has "quota-backend-bytes: 4294967296"; the host has "quota-backend-bytes: 2147483648" instead`}},
		"job file edited": {leader: 1, edit: func(s []Step) []Step {
			i := find(s, InstallBackupJob, "etcd-1")
			j := *s[i].Job
			j.Write = slices.Clone(j.Write)
			j.Write[0].Content = append(slices.Clone(j.Write[0].Content), "* * * * * root touch /tmp/pwned\n"...)
			s[i].Job = &j
			return s
		}, want: []string{`step 8 (install-backup-job etcd-1): the backup job file /etc/systemd/system/etcdform-backup-lab.service differs: the plan has "* * * * * root touch /tmp/pwned" instead`}},
		"upload path edited": {leader: 1, edit: func(s []Step) []Step {
			i := find(s, InstallBackupJob, "etcd-1")
			s[i].Uploads = slices.Clone(s[i].Uploads)
			s[i].Uploads[0].Path = "/usr/sbin/sshd"
			return s
		}, want: []string{`step 8 (install-backup-job etcd-1): the uploads differ: [etcdform-binary /usr/sbin/sshd from /usr/local/bin/etcdform (7001, 0755)] in the plan, [etcdform-binary /usr/local/bin/etcdform from /usr/local/bin/etcdform (7001, 0755)] now`}},
		"step added": {leader: 1, edit: func(s []Step) []Step {
			extra := Step{Action: RemoveMember, Cluster: "lab", Member: "etcd-2", MemberID: 0x102}
			return slices.Insert(s, 1, extra)
		}, want: []string{`step 2 (remove-member etcd-2): in the plan, but the configuration and the clusters now give no such step there`}},
		"step removed": {leader: 1, edit: func(s []Step) []Step {
			i := find(s, Restart, "etcd-3")
			return slices.Delete(s, i, i+1)
		}, want: []string{`step restart etcd-3 is missing: the configuration and the clusters now give it as step 5`}},
		"order changed": {leader: 1, edit: func(s []Step) []Step {
			// etcd-3's write and restart before etcd-2's.
			i := find(s, WriteConfig, "etcd-2")
			s[i], s[i+1], s[i+2], s[i+3] = s[i+2], s[i+3], s[i], s[i+1]
			return s
		}, want: []string{
			`step 2 (write-config etcd-3): in the plan, but the configuration and the clusters now give no such step there`,
			`step 3 (restart etcd-3): in the plan, but the configuration and the clusters now give no such step there`,
			`step write-config etcd-3 is missing: the configuration and the clusters now give it as step 4`,
			`step restart etcd-3 is missing: the configuration and the clusters now give it as step 5`,
		}},
		"leader flag moved without the order": {leader: 1, edit: func(s []Step) []Step {
			for i := range s {
				s[i].Leader = s[i].Member == "etcd-2" && (s[i].Action == WriteConfig || s[i].Action == Restart)
			}
			return s
		}, want: []string{
			`step 2 (write-config etcd-2): in the plan, but the configuration and the clusters now give no such step there`,
			`step 3 (restart etcd-2): in the plan, but the configuration and the clusters now give no such step there`,
			`step 4 (write-config etcd-3): in the plan, but the configuration and the clusters now give no such step there`,
			`step 5 (restart etcd-3): in the plan, but the configuration and the clusters now give no such step there`,
			`step write-config etcd-3 is missing: the configuration and the clusters now give it as step 4`,
			`step restart etcd-3 is missing: the configuration and the clusters now give it as step 5`,
			`step write-config etcd-2 is missing: the configuration and the clusters now give it as step 6`,
			`step restart etcd-2 is missing: the configuration and the clusters now give it as step 7`,
		}},
		"member ID and tolerance edited": {leader: 1, edit: func(s []Step) []Step {
			i := find(s, Restart, "etcd-2")
			s[i].MemberID = 0x999
			s[i].Tolerated = 1
			return s
		}, want: []string{
			`step 3 (restart etcd-2): the member ID is 999 in the plan, 102 now`,
			`step 3 (restart etcd-2): the failures tolerated is 1 in the plan, 0 now`,
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			steps := slices.Clone(saved.Steps)
			if tt.edit != nil {
				steps = tt.edit(steps)
			}
			_, freshObs, _ := compareFixture(tt.leader)
			o := freshObs()
			got := PinLeaders(o, steps)
			fresh := Make(cfg, o, opts)
			got = append(got, CompareSteps(steps, fresh.Steps)...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("differences (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCompareStepsNeedsPinnedLeader shows why apply pins the leader: the
// same world with another leader orders the rolling restart differently.
func TestCompareStepsNeedsPinnedLeader(t *testing.T) {
	cfg, obs1, opts := compareFixture(1)
	_, obs3, _ := compareFixture(3)
	saved, fresh := Make(cfg, obs1(), opts), Make(cfg, obs3(), opts)
	if got := CompareSteps(saved.Steps, fresh.Steps); len(got) == 0 {
		t.Fatalf("a plan with another leader compares equal unpinned: %q vs %q", brief(saved), brief(fresh))
	}
	o := obs3()
	if d := PinLeaders(o, saved.Steps); d != nil {
		t.Fatal(d)
	}
	if got := CompareSteps(saved.Steps, Make(cfg, o, opts).Steps); got != nil {
		t.Errorf("pinned: %q", got)
	}
}

// Time only moves warnings: a plan compared a day later, when its
// backups have gone stale, has the same steps.
func TestCompareStepsIgnoresTime(t *testing.T) {
	cfg, obs, opts := compareFixture(1)
	at := func(now time.Time) *state.Observed {
		o := obs()
		o.Time = now
		o.Clusters["lab"].Backups = &state.Backups{Destination: "file:///var/backups/etcd", Count: 3, Newest: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		return o
	}
	saved := Make(cfg, at(time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)), opts)
	fresh := Make(cfg, at(time.Date(2026, 1, 2, 1, 0, 0, 0, time.UTC)), opts)
	if slices.Contains(summaries(saved.Warnings), "Stale backups") || !slices.Contains(summaries(fresh.Warnings), "Stale backups") {
		t.Fatalf("fixture: warnings %q when planned, %q a day later; want Stale backups only later", summaries(saved.Warnings), summaries(fresh.Warnings))
	}
	if got := CompareSteps(saved.Steps, fresh.Steps); got != nil {
		t.Errorf("differences a day later: %q", got)
	}
}

// A running-config restart shows the process start derived from the
// host's clock and uptime, which moves by milliseconds between two
// observations and can flip its second: the re-derivation must not
// refuse the plan for that (CI, TestFaultLeaderPartitionedDuringMoveLeader).
func TestCompareStepsRunningConfigTimes(t *testing.T) {
	restart := func(started string) Step {
		return Step{Action: Restart, Cluster: "lab", Member: "etcd-3", Voters: 3,
			Changes: []Change{{Attr: "running-config", Before: "process started " + started, After: "config file of 2026-12-03T07:10:27Z"}}}
	}
	saved := []Step{restart("2026-12-03T07:10:19Z")}
	if got := CompareSteps(saved, []Step{restart("2026-12-03T07:10:18Z")}); got != nil {
		t.Errorf("a process start one second off refused the plan: %q", got)
	}
	other := restart("2026-12-03T07:10:19Z")
	other.Changes = append(other.Changes, Change{Attr: "quota-backend-bytes", Before: "1", After: "2"})
	if got := CompareSteps(saved, []Step{other}); got == nil {
		t.Error("an added change was not reported")
	}
	if got := CompareSteps(saved, nil); got == nil {
		t.Error("a restart no longer needed was not reported")
	}
}
