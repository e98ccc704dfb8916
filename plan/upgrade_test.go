package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// upgradeLab is lab at version from (etcd-1 leads) wanting to, with an
// install block and the release of to fetched.
func upgradeLab(from, to string) (*schema.Cluster, *state.Cluster) {
	c := testCluster(1, 2, 3)
	c.EtcdVersion = to
	c.Install = &schema.Install{Source: "/rel/v{version}/etcd-v{version}-{os}-{arch}.tar.gz", OS: "linux", Arch: "amd64"}
	oc := observe(testCluster(1, 2, 3), 1)
	for _, h := range oc.Hosts {
		h.BinaryVersion = from
	}
	oc.Release = &state.Release{Version: to, Source: "/rel/v" + to + "/etcd.tar.gz", SHA256: "aa",
		Etcd: state.ReleaseBinary{Path: "/cache/sha256-e1", SHA256: "e1"}, Etcdutl: state.ReleaseBinary{Path: "/cache/sha256-e2", SHA256: "e2"}}
	return c, oc
}

// TestUpgradePlan: a change of etcd_version with an install block plans a
// snapshot, the binary on every host, then an upgrade-member per member,
// followers first and the leader last; jumps the rules do not allow, and
// experimental keys before 3.7, are refused with what to do.
func TestUpgradePlan(t *testing.T) {
	c, oc := upgradeLab("3.5.35", "3.6.16")
	p := Make(config(c), observed(oc), Options{})
	want := []string{"snapshot  3/1",
		"check-v2store etcd-2 3/1", "check-v2store etcd-3 3/1", "check-v2store etcd-1 3/1 L",
		"stage-binary etcd-2 3/1", "stage-binary etcd-3 3/1", "stage-binary etcd-1 3/1 L",
		"upgrade-member etcd-2 3/0", "upgrade-member etcd-3 3/0", "upgrade-member etcd-1 3/0 L",
		"wait-cluster-version  3/1"}
	if diff := cmp.Diff(want, brief(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if len(p.Refusals) != 0 || len(p.Warnings) != 0 {
		t.Errorf("refusals %v, warnings %v", summaries(p.Refusals), summaries(p.Warnings))
	}
	wait := p.Steps[len(p.Steps)-1]
	if wait.Version != "3.6.16" || wait.Voters != 3 || wait.Member != "" {
		t.Errorf("the wait for the cluster version: %+v", wait)
	}
	last := p.Steps[len(p.Steps)-2]
	if len(last.Uploads) != 2 || last.Uploads[0].SHA256 != "e1" || last.Uploads[1].Path != "/usr/local/bin/etcdutl" {
		t.Errorf("the upgrade swaps in %+v, want the staged etcd and etcdutl", last.Uploads)
	}
	if !last.Leader || last.Target == nil || last.Target.Version != "3.6.16" ||
		!cmp.Equal(last.Changes, []Change{{Attr: "version", Before: "3.5.35", After: "3.6.16"}}) {
		t.Errorf("last step %+v", last)
	}

	// A patch change is free; without an install block it is a warning.
	c, oc = upgradeLab("3.6.11", "3.6.16")
	if got := brief(Make(config(c), observed(oc), Options{})); len(got) != 8 {
		t.Errorf("a patch upgrade: %v", got)
	}
	c.Install = nil
	if p := Make(config(c), observed(oc), Options{}); len(p.Steps) != 0 || len(p.Warnings) != 3 || p.Warnings[0].Summary != "Binary version differs" {
		t.Errorf("without install: steps %v, warnings %v", brief(p), summaries(p.Warnings))
	}

	cases := map[string]struct {
		from, to string
		mutate   func(oc *state.Cluster)
		summary  string
		detail   string
	}{
		"two minors":                {"3.5.35", "3.7.3", nil, "Version change not planned", "3.5.35 -> 3.6 (at least 3.6.11) -> 3.7.3"},
		"a 3.5 below the minimum":   {"3.5.20", "3.6.16", nil, "Version change not planned", "3.5.20 -> 3.5 (at least 3.5.32, required before 3.6) -> 3.6.16"},
		"a downgrade of two minors": {"3.7.3", "3.5.35", nil, "Version change not planned", "one minor version at a time (\"We only support downgrading one minor version at a time\", https://etcd.io/docs/v3.6/downgrades/downgrade_3_6/, step 3; its server accepts only the minor below the cluster version, AllowedDowngradeVersion in server/etcdserver/version/downgrade.go): apply these one after the other, setting etcd_version to each in turn: 3.7.3 -> 3.6 -> 3.5.35"},
		"a downgrade below 3.5":     {"3.5.35", "3.4.37", nil, "Version change not planned", "etcd's downgrade API (downgrade validate and enable) needs the cluster at 3.6 or later"},
		"a downgrade of a mixed cluster": {"3.6.16", "3.5.35", func(oc *state.Cluster) { oc.Hosts["etcd-2"].BinaryVersion = "3.5.35" },
			"Downgrade of a mixed cluster", "etcd-1, etcd-3 run 3.6.16; 1 already runs 3.5.35"},
		"a downgrade with a member down": {"3.6.16", "3.5.35", func(oc *state.Cluster) { oc.Hosts["etcd-3"].Reachable = false; oc.Hosts["etcd-3"].BinaryVersion = "" },
			"Downgrade of a mixed cluster", "etcd-3 are down or their hosts could not be read"},
		"a downgrade already enabled": {"3.6.16", "3.5.35", func(oc *state.Cluster) { oc.ClusterVersion = "3.5.0" },
			"Downgrade already enabled", "The cluster version is 3.5.0 while the members run 3.6"},
		"a learner during an upgrade": {"3.5.35", "3.6.16", func(oc *state.Cluster) { oc.Members[2].IsLearner = true },
			"Learner during a version change", "The member list holds the learner etcd-3"},
		"experimental keys before 3.7": {"3.6.16", "3.7.3", func(oc *state.Cluster) {
			oc.Hosts["etcd-2"].ConfigUnknown = []string{"experimental-initial-corrupt-check"}
		}, "Experimental config keys", "experimental-initial-corrupt-check"},
		"a tampered artifact": {"3.6.16", "3.7.3", func(oc *state.Cluster) { oc.Release = &state.Release{Error: "release: sha256 mismatch"} },
			"Install artifact refused", "sha256 mismatch"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, oc := upgradeLab(tc.from, tc.to)
			if tc.mutate != nil {
				tc.mutate(oc)
			}
			p := Make(config(c), observed(oc), Options{})
			found := false
			for _, r := range p.Refusals {
				found = found || r.Summary == tc.summary && strings.Contains(r.Detail, tc.detail)
			}
			if !found {
				t.Errorf("refusals %+v, want %q saying %q", p.Refusals, tc.summary, tc.detail)
			}
			for _, s := range p.Steps {
				if s.Action == StageBinary || s.Action == UpgradeMember || s.Action == DowngradeMember || s.Action == DowngradeEnable {
					t.Errorf("a refused upgrade plans %s %s", s.Action, s.Member)
				}
			}
		})
	}
}

// TestDowngradePlan (issue 17 #4): a lower etcd_version one minor down
// plans etcd's documented downgrade: a snapshot, the older binary staged
// on every host, downgrade-validate and downgrade-enable, then a
// downgrade-member per member, followers first and the leader last, and
// the wait for the cluster version; a patch downgrade is a rolling swap
// without etcd's downgrade requests.
func TestDowngradePlan(t *testing.T) {
	c, oc := upgradeLab("3.6.16", "3.5.35")
	oc.ClusterVersion = "3.6.0"
	p := Make(config(c), observed(oc), Options{})
	want := []string{"snapshot  3/1",
		"stage-binary etcd-2 3/1", "stage-binary etcd-3 3/1", "stage-binary etcd-1 3/1 L",
		"downgrade-validate  3/1", "downgrade-enable  3/1",
		"downgrade-member etcd-2 3/0", "downgrade-member etcd-3 3/0", "downgrade-member etcd-1 3/0 L",
		"wait-cluster-version  3/1"}
	if diff := cmp.Diff(want, brief(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if len(p.Refusals) != 0 || len(p.Warnings) != 0 {
		t.Errorf("refusals %v, warnings %v", summaries(p.Refusals), summaries(p.Warnings))
	}
	for _, i := range []int{4, 5, 9} {
		if p.Steps[i].Version != "3.5.35" {
			t.Errorf("step %s names version %q", p.Steps[i].Action, p.Steps[i].Version)
		}
	}
	if enable := p.Steps[5]; !cmp.Equal(enable.Changes, []Change{{Attr: "cluster-version", Before: "3.6.0", After: "3.5.0"}, {Attr: "storage-version", Before: "3.6.0", After: "3.5.0"}}) {
		t.Errorf("downgrade-enable changes %+v", enable.Changes)
	}
	if last := p.Steps[8]; last.Target == nil || last.Target.Version != "3.5.35" || len(last.Uploads) != 2 ||
		!cmp.Equal(last.Changes, []Change{{Attr: "version", Before: "3.6.16", After: "3.5.35"}}) {
		t.Errorf("the leader's downgrade-member %+v", last)
	}

	// A patch downgrade: etcd compares versions by minor, so it is a
	// rolling swap, without downgrade requests.
	c, oc = upgradeLab("3.6.16", "3.6.11")
	want = []string{"snapshot  3/1",
		"stage-binary etcd-2 3/1", "stage-binary etcd-3 3/1", "stage-binary etcd-1 3/1 L",
		"downgrade-member etcd-2 3/0", "downgrade-member etcd-3 3/0", "downgrade-member etcd-1 3/0 L",
		"wait-cluster-version  3/1"}
	if diff := cmp.Diff(want, brief(Make(config(c), observed(oc), Options{}))); diff != "" {
		t.Errorf("patch downgrade steps (-want +got):\n%s", diff)
	}
}
