package plan_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/plantest"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// The planner is the second line of defence behind the schema: a value
// that a renderer cannot encode (here put into the model directly, as if
// validation had missed it) becomes a refusal naming the member, and no
// step carries the file.
func TestMakeRefusesUnrenderableFiles(t *testing.T) {
	const payload = "\n* * * * * root touch /tmp/pwned #"
	tests := map[string]struct {
		edit func(c *schema.Cluster, oc *state.Cluster)
		want []string
	}{
		"newline in backup destination": {
			edit: func(c *schema.Cluster, _ *state.Cluster) {
				c.Backup = &schema.Backup{Schedule: "@daily", On: []string{"etcd-1"}, AllowUnencrypted: true,
					Destination: "file:///var/backups/x" + payload}
			},
			want: []string{"File cannot be written (etcd-1)"},
		},
		"newline in s3 region": {
			edit: func(c *schema.Cluster, _ *state.Cluster) {
				c.Backup = &schema.Backup{Schedule: "@daily", On: []string{"etcd-2"}, AllowUnencrypted: true,
					Destination: "s3://bucket/etcd", S3: &schema.S3Options{Region: "eu" + payload}}
			},
			want: []string{"File cannot be written (etcd-2)"},
		},
		"newline in data dir": {
			edit: func(c *schema.Cluster, _ *state.Cluster) { c.Service.DataDir = "/var/lib/etcd\nenable-pprof: true" },
			want: []string{"File cannot be written (etcd-1)", "File cannot be written (etcd-2)", "File cannot be written (etcd-3)"},
		},
		"newline in a new member's peer URL": {
			edit: func(c *schema.Cluster, oc *state.Cluster) {
				m := plantest.Member(4)
				m.PeerURL += payload
				c.Members, c.AllowEven = append(c.Members, m), true
				oc.Hosts[m.Name] = &state.Host{Member: m.Name, Reachable: true, DataDirEmpty: true, ServiceState: "stopped"}
			},
			want: []string{"File cannot be written (etcd-4)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			live := testCluster(1, 2, 3)
			live.Service.Manager = "runit"
			oc := observe(live, 1)
			desired := testCluster(1, 2, 3)
			desired.Service.Manager = "runit"
			tc.edit(desired, oc)
			p := Make(config(desired), observed(oc), Options{})
			if diff := cmp.Diff(tc.want, summaries(p.Refusals)); diff != "" {
				t.Fatalf("refusals (-want +got)\n%s", diff)
			}
			for _, s := range p.Steps {
				if bytes.Contains(s.Config, []byte("\n* * *")) || bytes.Contains(s.Config, []byte("enable-pprof")) {
					t.Errorf("step %s %s carries the payload:\n%s", s.Action, s.Member, s.Config)
				}
				if s.Job != nil && len(s.Job.Write) > 0 {
					t.Errorf("step %s %s writes a job: %+v", s.Action, s.Member, s.Job.Write)
				}
			}
		})
	}
}
