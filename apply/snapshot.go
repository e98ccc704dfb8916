package apply

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// snapshot takes and verifies the pre-change snapshot: through
// Options.Backup to the cluster's backup destination when it has one,
// else into SnapshotDir.
func (x *executor) snapshot(ctx context.Context) error {
	if x.c.Backup && x.opts.Backup != nil {
		if err := x.opts.Backup(ctx, x.c.Name); err != nil {
			return fmt.Errorf("pre-change backup of cluster %s failed: %w", x.c.Name, err)
		}
		return nil
	}
	dir := x.opts.SnapshotDir
	if dir == "" {
		return fmt.Errorf("a snapshot is planned but no snapshot directory was given (use --snapshot-dir)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("snapshot dir: %w", err)
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%s.db", x.c.Name, x.opts.Now().UTC().Format("20060102T150405Z")))
	f, err := os.OpenFile(name+".part", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	_, _, err = x.etcd.Snapshot(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name + ".part")
		return fmt.Errorf("snapshot of cluster %s failed: %w", x.c.Name, err)
	}
	return os.Rename(name+".part", name)
}
