package live

import (
	"context"

	"github.com/etcdform/etcdform/plan"
	store "github.com/etcdform/etcdform/providers/backup"
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
