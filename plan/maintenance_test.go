package plan_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// nospace is a 3-member cluster led by etcd-2 whose every member hit a
// 160 MiB quota and raised NOSPACE.
func nospace() *state.Cluster {
	oc := observe(testCluster(1, 2, 3), 2)
	for i := range oc.Members {
		st := oc.Members[i].Status
		st.DBSize, st.DBSizeInUse, st.Revision = 160<<20, 40<<20, 90000
		st.Errors = []string{fmt.Sprintf("memberID:%d alarm:NOSPACE ", oc.Members[i].ID)} // as etcd reports it
		oc.Alarms = append(oc.Alarms, state.Alarm{MemberID: oc.Members[i].ID, Type: "NOSPACE"})
		oc.Hosts[oc.Members[i].Name].Config.QuotaBackendBytes = 160 << 20
	}
	return oc
}

func TestMaintenanceNoSpace(t *testing.T) {
	c := testCluster(1, 2, 3)
	c.Storage.QuotaBackendBytes = 2 << 30 // the quota raise
	p := Make(config(c), observed(nospace()), Options{})
	want := []string{
		"snapshot  3/1",
		"compact  3/1",
		"defrag etcd-1 3/0", "defrag etcd-3 3/0", "defrag etcd-2 3/0 L",
		"disarm-alarm etcd-1 3/1", "disarm-alarm etcd-2 3/1", "disarm-alarm etcd-3 3/1",
		"write-config etcd-1 3/1", "restart etcd-1 3/0",
		"write-config etcd-3 3/1", "restart etcd-3 3/0",
		"write-config etcd-2 3/1 L", "restart etcd-2 3/0 L",
	}
	if diff := cmp.Diff(want, brief(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if len(p.Refusals) > 0 || len(p.Warnings) > 0 {
		t.Errorf("refusals %v, warnings %v; want none", summaries(p.Refusals), summaries(p.Warnings))
	}
	if s := p.Steps[1]; s.Revision != 90000 || !cmp.Equal(s.Changes, []Change{{Attr: "revision", Before: "90000", After: "90000"}}) {
		t.Errorf("compact step: revision %d, changes %v", s.Revision, s.Changes)
	}
	if got, want := p.Steps[2].Changes, []Change{{Attr: "db-size", Before: "160 MiB", After: "~40 MiB (reclaims ~120 MiB)"}}; !cmp.Equal(got, want) {
		t.Errorf("defrag changes %v, want %v", got, want)
	}
	if s := p.Steps[5]; s.Alarm != "NOSPACE" || s.MemberID != 0x101 {
		t.Errorf("disarm step: %+v", s)
	}
}

func TestMaintenanceCorrupt(t *testing.T) {
	oc := observe(testCluster(1, 2, 3), 1)
	oc.Alarms = []state.Alarm{{MemberID: 0x103, Type: "CORRUPT"}, {MemberID: 0x101, Type: "NOSPACE"}}
	c := testCluster(1, 2, 3)
	c.Storage.QuotaBackendBytes = 4 << 30 // a config change is not planned either
	p := Make(config(c), observed(oc), Options{})
	if len(p.Steps) != 0 {
		t.Errorf("steps %v, want none: nothing is planned (or disarmed) while CORRUPT is raised", brief(p))
	}
	if diff := cmp.Diff([]string{"Data corruption alarm raised (etcd-3)"}, summaries(p.Refusals)); diff != "" {
		t.Fatalf("refusals (-want +got):\n%s", diff)
	}
	if d := p.Refusals[0].Detail; !strings.Contains(d, "never disarms") || !strings.Contains(d, "etcdctl member remove 103") {
		t.Errorf("refusal detail does not say what to do: %s", d)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{100: "100 B", 812 << 10: "812 KiB", 512 << 20: "512 MiB", 3 << 29: "1.5 GiB", 96<<20 + 300<<10: "96.3 MiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestMaintenanceRoutineDefrag: the defrag policy selects members above
// the fragmentation share with enough to reclaim, the leader last; without
// the block nothing is planned.
func TestMaintenanceRoutineDefrag(t *testing.T) {
	oc := func() *state.Cluster {
		oc := observe(testCluster(1, 2, 3), 1)
		sizes := map[string][2]int64{
			"etcd-1": {512 << 20, 96 << 20},  // 81% free, 416 MiB: yes (leader: last)
			"etcd-2": {512 << 20, 400 << 20}, // 22% free: no
			"etcd-3": {100 << 20, 10 << 20},  // 90% free but 90 MiB < 128 MiB: no at 128MiB, yes at 64MiB
		}
		for i := range oc.Members {
			st := oc.Members[i].Status
			st.DBSize, st.DBSizeInUse = sizes[oc.Members[i].Name][0], sizes[oc.Members[i].Name][1]
		}
		return oc
	}
	tests := map[string]struct {
		policy *schema.Maintenance
		want   []string
	}{
		"no block":        {nil, nil},
		"no defrag block": {&schema.Maintenance{}, nil},
		"64MiB":           {&schema.Maintenance{Defrag: &schema.DefragPolicy{FragmentationAbove: 30, MinReclaimable: 64 << 20}}, []string{"snapshot  3/1", "defrag etcd-3 3/0", "defrag etcd-1 3/0 L"}},
		"128MiB":          {&schema.Maintenance{Defrag: &schema.DefragPolicy{FragmentationAbove: 30, MinReclaimable: 128 << 20}}, []string{"snapshot  3/1", "defrag etcd-1 3/0 L"}},
		"above 85%":       {&schema.Maintenance{Defrag: &schema.DefragPolicy{FragmentationAbove: 85, MinReclaimable: 0}}, []string{"snapshot  3/1", "defrag etcd-3 3/0"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := testCluster(1, 2, 3)
			c.Maintenance = tc.policy
			p := Make(config(c), observed(oc()), Options{})
			if diff := cmp.Diff(tc.want, brief(p)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if len(p.Refusals) > 0 {
				t.Errorf("refusals: %v", summaries(p.Refusals))
			}
		})
	}
	c := testCluster(1, 2, 3)
	c.Maintenance = &schema.Maintenance{Defrag: &schema.DefragPolicy{FragmentationAbove: 30, MinReclaimable: 128 << 20}}
	p := Make(config(c), observed(oc()), Options{})
	if got, want := p.Steps[1].Changes, []Change{{Attr: "db-size", Before: "512 MiB", After: "~96 MiB (reclaims ~416 MiB)"}}; !cmp.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	if r := p.Steps[1].Reason; !strings.Contains(r, "81% of the DB file is free") {
		t.Errorf("reason %q", r)
	}
}

// TestQuotaWarning: a DB at 75% of the quota is a warning that says how
// much a defrag would reclaim; at 74% (and above the margin) it is not.
func TestQuotaWarning(t *testing.T) {
	for _, tc := range []struct {
		size int64
		want []string
	}{
		{750 << 20, []string{"DB close to quota (etcd-2)"}},
		{740 << 20, nil},
	} {
		c := testCluster(1, 2, 3)
		c.Storage.QuotaBackendBytes = 1000 << 20
		oc := observe(c, 1)
		for i := range oc.Members {
			oc.Members[i].Status.DBSize, oc.Members[i].Status.DBSizeInUse = 100<<20, 50<<20
			if oc.Members[i].Name == "etcd-2" {
				oc.Members[i].Status.DBSize, oc.Members[i].Status.DBSizeInUse = tc.size, 150<<20
			}
		}
		p := Make(config(c), observed(oc), Options{})
		if diff := cmp.Diff(tc.want, summaries(p.Warnings)); diff != "" {
			t.Errorf("DB of %s: warnings (-want +got):\n%s", FormatSize(tc.size), diff)
			continue
		}
		if len(p.Steps) > 0 {
			t.Errorf("steps %v, want none", brief(p))
		}
		if tc.want != nil {
			d := p.Warnings[0].Detail
			for _, w := range []string{"etcd-2: 750 MiB", "75% of quota_backend_bytes = 1000 MiB", "reclaim ~600 MiB on etcd-2 (~700 MiB on all members)"} {
				if !strings.Contains(d, w) {
					t.Errorf("warning %q does not say %q", d, w)
				}
			}
		}
	}
}
