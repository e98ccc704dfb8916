package plan_test

import (
	"fmt"
	"slices"
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

// TestMaintenanceNoSpace: with a quota raise, the recovery compacts,
// defragments and disarms (guarded by the running quota, so that history
// freed by the recovery gives writes back at once), then the snapshot and
// the config writes and restarts that raise the quota, then disarms again,
// guarded by the raised quota: a database whose live data fills the old
// quota (the early disarm waits) then takes writes again. Without a raise the disarms
// follow the defrags, guarded by the quota the members run with, and
// nothing risky follows, so there is no snapshot.
func TestMaintenanceNoSpace(t *testing.T) {
	tests := map[string]struct {
		quota int64
		want  []string
		guard int64 // the disarm steps' Quota
	}{
		"quota raised": {2 << 30, []string{
			"compact  3/1",
			"defrag etcd-1 3/0", "defrag etcd-3 3/0", "defrag etcd-2 3/0 L",
			"disarm-alarm etcd-1 3/1", "disarm-alarm etcd-2 3/1", "disarm-alarm etcd-3 3/1",
			"snapshot  3/1",
			"write-config etcd-1 3/1", "restart etcd-1 3/0",
			"write-config etcd-3 3/1", "restart etcd-3 3/0",
			"write-config etcd-2 3/1 L", "restart etcd-2 3/0 L",
			"disarm-alarm etcd-1 3/1", "disarm-alarm etcd-2 3/1", "disarm-alarm etcd-3 3/1",
		}, 2 << 30},
		"quota kept": {160 << 20, []string{
			"compact  3/1",
			"defrag etcd-1 3/0", "defrag etcd-3 3/0", "defrag etcd-2 3/0 L",
			"disarm-alarm etcd-1 3/1", "disarm-alarm etcd-2 3/1", "disarm-alarm etcd-3 3/1",
		}, 160 << 20},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := testCluster(1, 2, 3)
			c.Storage.QuotaBackendBytes = tc.quota
			p := Make(config(c), observed(nospace()), Options{})
			if diff := cmp.Diff(tc.want, brief(p)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if len(p.Refusals) > 0 || (tc.quota > 160<<20) != (len(p.Warnings) == 0) {
				t.Errorf("refusals %v, warnings %v; want none, and the DB-size warning only at the kept quota", summaries(p.Refusals), summaries(p.Warnings))
			}
			if t.Failed() {
				return
			}
			if s := p.Steps[0]; s.Revision != 90000 || !cmp.Equal(s.Changes, []Change{{Attr: "revision", Before: "90000", After: "90000"}}) {
				t.Errorf("compact step: revision %d, changes %v", s.Revision, s.Changes)
			}
			if got, want := p.Steps[1].Changes, []Change{{Attr: "db-size", Before: "160 MiB", After: "~40 MiB (reclaims ~120 MiB)"}}; !cmp.Equal(got, want) {
				t.Errorf("defrag changes %v, want %v", got, want)
			}
			s := p.Steps[len(p.Steps)-3]
			if s.Action != DisarmAlarm || s.Alarm != "NOSPACE" || s.MemberID != 0x101 || s.Quota != tc.guard {
				t.Errorf("disarm step: %+v; want NOSPACE of 101 guarded by a quota of %d", s, tc.guard)
			}
			limit := FormatSize(DisarmLimit(tc.guard))
			if !strings.Contains(s.Reason, "at most "+limit) || !strings.Contains(s.Reason, "or delete keys, and plan again") {
				t.Errorf("disarm reason %q: want the guard (at most %s) and the way out", s.Reason, limit)
			}
			if tc.quota > 160<<20 {
				// The early disarms, right after the defrags, are guarded
				// by the running quota and wait for the later ones when
				// live keys fill it.
				e := p.Steps[4]
				if e.Action != DisarmAlarm || e.Quota != 160<<20 || !strings.Contains(e.Reason, "until the disarm after the quota raise") {
					t.Errorf("early disarm step: %+v; want a disarm guarded by the running 160 MiB that defers to the one after the raise", e)
				}
			}
		})
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
		"64MiB":           {&schema.Maintenance{Defrag: &schema.DefragPolicy{FragmentationAbove: 30, MinReclaimable: 64 << 20}}, []string{"defrag etcd-3 3/0", "defrag etcd-1 3/0 L"}},
		"128MiB":          {&schema.Maintenance{Defrag: &schema.DefragPolicy{FragmentationAbove: 30, MinReclaimable: 128 << 20}}, []string{"defrag etcd-1 3/0 L"}},
		"above 85%":       {&schema.Maintenance{Defrag: &schema.DefragPolicy{FragmentationAbove: 85, MinReclaimable: 0}}, []string{"defrag etcd-3 3/0"}},
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
	if got, want := p.Steps[0].Changes, []Change{{Attr: "db-size", Before: "512 MiB", After: "~96 MiB (reclaims ~416 MiB)"}}; !cmp.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	if r := p.Steps[0].Reason; !strings.Contains(r, "81% of the DB file is free") {
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

// TestDisarmLimit: the largest DB a NOSPACE disarm accepts keeps the
// planner's quota margin (the larger of 64 MiB and 10% of the DB) below the
// quota, and one byte more does not.
func TestDisarmLimit(t *testing.T) {
	for quota, want := range map[int64]int64{160 << 20: 96 << 20, 2 << 30: 1952257862, 64 << 20: 0} {
		got := DisarmLimit(quota)
		if got != want {
			t.Errorf("DisarmLimit(%s) = %d, want %d", FormatSize(quota), got, want)
		}
		if got > 0 && (got+max(QuotaMarginMin, got*QuotaMarginPercent/100) > quota || got+1+max(QuotaMarginMin, (got+1)*QuotaMarginPercent/100) <= quota) {
			t.Errorf("DisarmLimit(%s) = %d is not the largest size that keeps the margin", FormatSize(quota), got)
		}
	}
}

// TestCompareStepsLaterNospace: a member that raised its own NOSPACE after
// the plan was made gives the fresh plan one more disarm-alarm step; the
// saved plan's disarm clears it too, so that alone is no difference. Any
// other difference still is, and so is a first NOSPACE (no saved disarm)
// or another alarm type.
func TestCompareStepsLaterNospace(t *testing.T) {
	c := testCluster(1, 2, 3)
	c.Storage.QuotaBackendBytes = 160 << 20
	// Planned when only etcd-1 had raised NOSPACE.
	early := nospace()
	early.Alarms = early.Alarms[:1]
	saved := Make(config(c), observed(early), Options{})
	fresh := Make(config(c), observed(nospace()), Options{})
	if n, m := len(saved.Steps), len(fresh.Steps); m != n+2 {
		t.Fatalf("fixture: %q vs %q", brief(saved), brief(fresh))
	}
	if got := CompareSteps(saved.Steps, fresh.Steps); got != nil {
		t.Errorf("a later NOSPACE of another member is a difference: %q", got)
	}
	// With the saved compact changed, that difference is still found.
	edited := slices.Clone(saved.Steps)
	edited[0].Revision++
	if got := CompareSteps(edited, fresh.Steps); len(got) != 1 || !strings.Contains(got[0], "compact revision") {
		t.Errorf("an edited compact beside a later NOSPACE: %q, want the compact revision only", got)
	}
	// No NOSPACE when planned: the recovery is all new.
	calm := observe(testCluster(1, 2, 3), 2)
	for i := range calm.Members {
		calm.Hosts[calm.Members[i].Name].Config.QuotaBackendBytes = 160 << 20
	}
	if got := CompareSteps(Make(config(c), observed(calm), Options{}).Steps, fresh.Steps); len(got) != 4 || !strings.Contains(got[0], "step compact lab is missing") {
		t.Errorf("a NOSPACE raised since a plan without one: %q, want the compaction and the disarms as differences (a defrag alone is none)", got)
	}
	// A disarm of another alarm type is not covered.
	other := slices.Clone(fresh.Steps)
	other[len(other)-1].Alarm = "CORRUPT"
	if got := CompareSteps(saved.Steps, other); len(got) != 1 {
		t.Errorf("a disarm of another alarm type: %q, want it as the one difference", got)
	}
}

// TestCompareStepsRoutineDefrag: a saved routine-defrag plan whose member's
// fragmentation fell below the threshold before apply (the fresh plan has
// no defrag of it), or one whose other member rose above it, still
// compares equal; other differences are still found.
func TestCompareStepsRoutineDefrag(t *testing.T) {
	c := testCluster(1, 2, 3)
	c.Maintenance = &schema.Maintenance{Defrag: &schema.DefragPolicy{FragmentationAbove: 30, MinReclaimable: 64 << 20}}
	obs := func(free map[string]int64) *state.Observed {
		oc := observe(testCluster(1, 2, 3), 1)
		for i := range oc.Members {
			st := oc.Members[i].Status
			st.DBSize, st.DBSizeInUse = 512<<20, 512<<20-free[oc.Members[i].Name]
		}
		return observed(oc)
	}
	saved := Make(config(c), obs(map[string]int64{"etcd-2": 400 << 20, "etcd-3": 400 << 20}), Options{})
	if got := brief(saved); !cmp.Equal(got, []string{"defrag etcd-2 3/0", "defrag etcd-3 3/0"}) {
		t.Fatalf("fixture: %q", got)
	}
	fresh := Make(config(c), obs(map[string]int64{"etcd-1": 400 << 20, "etcd-2": 400 << 20}), Options{})
	if got := CompareSteps(saved.Steps, fresh.Steps); got != nil {
		t.Errorf("etcd-3 fell below and etcd-1 rose above the threshold: %q, want no difference", got)
	}
	edited := slices.Clone(saved.Steps)
	edited[0].MemberID = 0xdead
	if got := CompareSteps(edited, fresh.Steps); len(got) != 1 || !strings.Contains(got[0], "member ID") {
		t.Errorf("an edited member ID: %q, want it as the one difference", got)
	}
}
