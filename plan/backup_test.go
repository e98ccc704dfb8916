package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/backupjob"
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

func TestBackupJobs(t *testing.T) {
	b := &schema.Backup{Schedule: "0 */6 * * *", On: []string{"a"}, Destination: "file:///var/backups/etcd", Recipient: "age1x"}
	c := &schema.Cluster{Name: "main", Backup: b, Members: []*schema.Member{{Name: "a", ClientURL: "http://10.0.0.1:2379"}, {Name: "b", ClientURL: "http://10.0.0.2:2379"}}}
	tool := Tool{Path: "/usr/bin/etcdform", SHA256: "new"}
	installed := backupjob.RenderCron(backupjob.SpecFor(c, c.Members[0], "new"))
	other := *b
	other.Schedule = "@daily"
	oldSchedule := backupjob.RenderCron(backupjob.SpecFor(&schema.Cluster{Name: "main", Backup: &other}, c.Members[0], "new"))
	type host struct {
		job  []byte
		tool string
	}
	tests := map[string]struct {
		a, b host
		tool Tool
		want []string // "member attr before->after [upload]"
	}{
		"absent":           {tool: tool, want: []string{"a job (absent)->0 */6 * * * upload", "a binary_sha256 (absent)->new upload"}},
		"converged":        {a: host{installed, "new"}, tool: tool},
		"binary unmanaged": {a: host{installed, "old"}},
		"new binary":       {a: host{installed, "old"}, tool: tool, want: []string{"a binary_sha256 old->new upload"}},
		"schedule":         {a: host{oldSchedule, "new"}, tool: tool, want: []string{"a schedule @daily->0 */6 * * *"}},
		"hand edit":        {a: host{append(installed, "# x\n"...), "new"}, tool: tool, want: []string{"a job backup job file: edited by hand->0 */6 * * *"}},
		"not in on":        {a: host{installed, "new"}, b: host{installed, ""}, tool: tool, want: []string{"b job installed->(absent)"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			oc := &ObservedCluster{Name: "main", Hosts: map[string]*ObservedHost{
				"a": {Reachable: true, BackupJob: tc.a.job, ToolSHA256: tc.a.tool},
				"b": {Reachable: true, BackupJob: tc.b.job, ToolSHA256: tc.b.tool},
			}}
			cp := newClusterPlanner(c, oc, Options{Tool: tc.tool})
			cp.backupJobs()
			var got []string
			for _, s := range cp.steps {
				if s.Action != InstallBackupJob {
					t.Fatalf("step %v", s.Action)
				}
				for _, ch := range s.Changes {
					g := s.Member + " " + ch.Attr + " " + ch.Before + "->" + ch.After
					if len(s.Uploads) > 0 {
						g += " upload"
					}
					got = append(got, g)
				}
				if (s.Config == nil) != strings.HasSuffix(got[len(got)-1], "(absent)") {
					t.Errorf("step on %s: job file %d bytes", s.Member, len(s.Config))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}
