package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/plan/model"
)

// fetchedBackup is a backup snapshot fetched and checked where etcdform
// runs, kept (mode 0600, in a directory of its own) until the end of the
// cluster's apply.
type fetchedBackup struct {
	dir, path string
	backup    model.BackupSnapshot
}

// removeFetched deletes the fetched snapshot's local copy: the
// destination keeps the backup.
func (x *executor) removeFetched() {
	if x.fetched != nil {
		os.RemoveAll(x.fetched.dir)
		x.fetched = nil
	}
}

// fetchBackup fetches the step's backup snapshot through
// Options.FetchBackup (from the destination, decrypted, checked against
// the record), checks its size and sha256 against the plan's once more,
// and keeps it for the restore-member steps. It touches no host.
func (x *executor) fetchBackup(ctx context.Context, s model.Step) error {
	b := s.Backup
	if b == nil {
		return fmt.Errorf("fetch-backup: the step names no snapshot (plan again with this etcdform)")
	}
	if x.opts.FetchBackup == nil {
		return fmt.Errorf("fetch-backup: this apply cannot fetch backups")
	}
	x.removeFetched()
	dir, err := os.MkdirTemp("", "etcdform-restore-")
	if err != nil {
		return fmt.Errorf("fetch-backup: %w", err)
	}
	f := &fetchedBackup{dir: dir, path: filepath.Join(dir, "snapshot.db"), backup: *b}
	x.ev("fetching " + b.ID + " from " + b.Destination)
	if err := x.opts.FetchBackup(ctx, s.Cluster, *b, f.path); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("fetching backup %s; no member was touched: %w", b.ID, err)
	}
	x.ev("checking the snapshot")
	if err := checkFile(f.path, b.Size, b.SHA256); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("backup %s; no member was touched: %w", b.ID, err)
	}
	x.fetched = f
	return nil
}

// checkFile checks that the file at p has size bytes and the given hex
// sha256.
func checkFile(p string, size int64, sum string) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sum {
		return fmt.Errorf("the fetched snapshot has %d bytes and sha256 %s, and the plan recorded %d bytes and %s", n, got, size, sum)
	}
	return nil
}

// restoreMember uploads the snapshot fetch-backup checked to the member's
// host (checked there against its sha256), restores it into the member's
// data dir with etcdutl snapshot restore as a member of the new cluster
// the step's config describes (name, peer URL, whole initial cluster,
// token), the revision bumped and the history marked compacted, and
// writes that config. The stop-member step before moved the old member/
// aside; the member is started by the bootstrap-start steps after.
func (x *executor) restoreMember(ctx context.Context, s model.Step) error {
	t, b := s.Target, s.Backup
	if t == nil || b == nil || len(s.Config) == 0 {
		return fmt.Errorf("restore %s: the step names no host, snapshot or config (plan again with this etcdform)", s.Member)
	}
	if x.fetched == nil || x.fetched.backup.ID != b.ID || x.fetched.backup.SHA256 != b.SHA256 {
		return fmt.Errorf("restore %s: snapshot %s was not fetched and checked in this apply (a fetch-backup step of it must come first)", s.Member, b.ID)
	}
	cfg, err := etcdconf.Parse(s.Config)
	if err == nil && len(cfg.Unknown) > 0 {
		err = fmt.Errorf("unknown keys %v", cfg.Unknown)
	}
	if err == nil && (cfg.File.Name == "" || cfg.File.InitialAdvertisePeerURLs == "" || cfg.File.InitialClusterToken == "" ||
		cfg.File.InitialCluster == "" || cfg.File.InitialClusterState != "new") {
		err = fmt.Errorf("it names no member name, peer URL, initial cluster or cluster token, or is not initial-cluster-state new")
	}
	if err != nil {
		return fmt.Errorf("the config of %s cannot be used, nothing was changed: %w", s.Member, err)
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	snap, err := os.Open(x.fetched.path)
	if err != nil {
		return fmt.Errorf("restore %s: %w", s.Member, err)
	}
	defer snap.Close()
	dd := t.DataDir
	x.ev("uploading and restoring " + b.ID)
	r := Restore{Etcdutl: path.Join(path.Dir(t.Binary), "etcdutl"), From: path.Join(dd, "restore-"+b.ID+".db"), DataDir: dd,
		Name: cfg.File.Name, PeerURL: cfg.File.InitialAdvertisePeerURLs, Token: cfg.File.InitialClusterToken,
		InitialCluster: cfg.File.InitialCluster, BumpRevision: model.RecoverBumpRevision,
		Snapshot: snap, SnapshotSHA256: b.SHA256}
	if err := h.Restore(ctx, r); err != nil {
		return fmt.Errorf("restoring backup %s on %s: %w", b.ID, s.Member, err)
	}
	x.ev("writing config")
	if err := h.InstallFiles(ctx, []File{{Path: t.ConfigFile, Data: s.Config, Mode: 0o644}}); err != nil {
		return fmt.Errorf("%s was restored, but its config could not be written: %w", s.Member, err)
	}
	return nil
}
