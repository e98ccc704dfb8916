package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/schema"
)

func TestBackupFreshness(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c := &schema.Cluster{Name: "main", Backup: &schema.Backup{Schedule: "0 */6 * * *", On: []string{"etcd-1"}, Destination: "s3://b/main"}}
	tests := map[string]struct {
		obs  *ObservedBackups
		now  time.Time
		want []string // warning summaries
	}{
		"not observed":   {obs: nil, now: now},
		"listing failed": {obs: &ObservedBackups{Destination: "s3://b/main", Error: "no credentials"}, now: now, want: []string{"Backups not observed"}},
		"none":           {obs: &ObservedBackups{Destination: "s3://b/main"}, now: now, want: []string{"No backup"}},
		"fresh":          {obs: &ObservedBackups{Count: 3, Newest: now.Add(-5 * time.Hour)}, now: now},
		"one run missed": {obs: &ObservedBackups{Count: 3, Newest: now.Add(-11 * time.Hour)}, now: now},
		"stale":          {obs: &ObservedBackups{Count: 3, Newest: now.Add(-13 * time.Hour)}, now: now, want: []string{"Stale backups"}},
		"no clock":       {obs: &ObservedBackups{Count: 3, Newest: now.Add(-100 * time.Hour)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cp := newClusterPlanner(c, &ObservedCluster{Name: "main", Backups: tc.obs}, Options{})
			cp.backupFreshness(tc.now)
			var got []string
			for _, w := range cp.warnings {
				got = append(got, w.Summary)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
			if len(cp.refusals) > 0 {
				t.Fatalf("freshness refused: %v", cp.refusals)
			}
		})
	}
}
