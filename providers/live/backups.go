package live

import (
	"context"
	"slices"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
	store "github.com/etcdform/etcdform/providers/backup"
	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/schema"
)

// Backups lists cluster c's backup destination (S3 credentials from the
// AWS_* environment variables, read through Getenv) and reports how many
// complete snapshots of c it holds and when the newest was taken; nil when
// c has no backup block.
func Backups(ctx context.Context, c *schema.Cluster) *plan.ObservedBackups {
	b := c.Backup
	if b == nil {
		return nil
	}
	ob := &plan.ObservedBackups{Destination: b.Destination}
	opts := store.Options{Getenv: Getenv}
	if b.S3 != nil {
		opts.Endpoint, opts.Region, opts.PathStyle = b.S3.Endpoint, b.S3.Region, b.S3.PathStyle
	}
	s, err := store.Open(b.Destination, opts)
	if err != nil {
		ob.Error = err.Error()
		return ob
	}
	all, _, err := store.List(ctx, s)
	if err != nil {
		ob.Error = err.Error()
		return ob
	}
	for _, m := range all {
		if m.Cluster != c.Name {
			continue
		}
		ob.Count++
		if m.Time.After(ob.Newest) {
			ob.Newest = m.Time
		}
	}
	return ob
}

// backupJob reads the installed backup job file of cluster c and the hash
// of the etcdform binary it runs (on the hosts of backup.on only); nil
// and "" when absent (or unreadable: plan then proposes to install them).
func backupJob(ctx context.Context, cli *sshp.Client, c *schema.Cluster, m *schema.Member) ([]byte, string) {
	job, err := cli.ReadFile(ctx, backupjob.CronPath(c.Name))
	if err != nil {
		job = nil
	}
	if c.Backup == nil || !slices.Contains(c.Backup.On, m.Name) {
		return job, ""
	}
	sum, err := cli.Sha256File(ctx, backupjob.DefaultBinary)
	if err != nil {
		sum = ""
	}
	return job, sum
}
