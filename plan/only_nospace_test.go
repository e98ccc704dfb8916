package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
)

// TestOnlyMaintenanceNoSpace: under NOSPACE with a quota raise, --only
// maintenance keeps the guide's recovery (compact, defrag per member with
// the leader last, disarm) and leaves the config writes and restarts out,
// listed. Planned for the selection (Options.Only), the disarms follow the
// defrags and are guarded by the quota the members run with, not by the
// raise the selection leaves out.
func TestOnlyMaintenanceNoSpace(t *testing.T) {
	c := testCluster(1, 2, 3)
	c.Storage.QuotaBackendBytes = 2 << 30
	p := Make(config(c), observed(nospace()), Options{Only: OnlyMaintenance})
	want := []string{
		"compact  3/1",
		"defrag etcd-1 3/0", "defrag etcd-3 3/0", "defrag etcd-2 3/0 L",
		"disarm-alarm etcd-1 3/1", "disarm-alarm etcd-2 3/1", "disarm-alarm etcd-3 3/1",
	}
	if diff := cmp.Diff(want, brief(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if len(p.Refusals) > 0 || len(p.Warnings) != 1 || !strings.HasPrefix(p.Warnings[0].Detail,
		"Left out by --only maintenance: 6 steps of cluster "+c.Name+": write-config etcd-1, restart etcd-1, write-config etcd-3, restart etcd-3, write-config etcd-2, restart etcd-2.") {
		t.Errorf("refusals %v, warnings %+v; want only the left-out steps", p.Refusals, p.Warnings)
	}
	if got := NotSelected(p, OnlyMaintenance); len(got) != 0 {
		t.Errorf("NotSelected: %q", got)
	}
	for _, s := range p.Steps {
		if s.Action == DisarmAlarm && s.Quota != 160<<20 {
			t.Errorf("disarm-alarm %s guarded by a quota of %d, want the running 160 MiB", s.Member, s.Quota)
		}
	}
}
