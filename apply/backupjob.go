package apply

import (
	"context"
	"fmt"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
)

// backupJob installs the etcdform binary the job runs (when the step
// uploads it: read and hash-checked like any upload), then writes the job
// file, or removes it when the step carries none.
func (x *executor) backupJob(ctx context.Context, s plan.Step) error {
	if len(s.Uploads) > 0 {
		if err := x.upload(ctx, s); err != nil {
			return err
		}
	}
	h, err := x.host(ctx, s.Member)
	if err != nil {
		return err
	}
	path := backupjob.CronPath(s.Cluster)
	if s.Config == nil {
		x.ev("removing " + path)
		if _, err := h.Run(ctx, "rm -f -- "+shellQuote(path)); err != nil {
			return fmt.Errorf("removing %s: %w", path, err)
		}
		return nil
	}
	x.ev("writing " + path)
	if _, err := h.Run(ctx, "mkdir -p /etc/cron.d"); err != nil {
		return err
	}
	return h.WriteFile(ctx, path, s.Config, 0o644)
}
