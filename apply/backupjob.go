package apply

import (
	"context"
	"fmt"
	"path"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan/model"
)

// backupJob carries out an InstallBackupJob step, in model.JobInstall's
// order: it installs the etcdform binary and the S3 credentials the job
// uses (when the step uploads them: read and hash-checked like any
// upload), writes the job's files and has systemd load and schedule its
// timer; only with the new job in place does it stop and remove a job
// being replaced or removed; then it runs the job once when the plan says
// so, with the command derived from the files it wrote.
func (x *executor) backupJob(ctx context.Context, s model.Step) error {
	j := s.Job
	if j == nil {
		return fmt.Errorf("install-backup-job on %s: the step has no job", s.Member)
	}
	sch := backupjob.Scheduler(j.Scheduler)
	files := map[string][]byte{}
	for _, f := range j.Write {
		files[f.Path] = f.Content
	}
	spec, err := backupjob.Check(s.Cluster, sch, files, j.Remove, j.StopTimers, j.Timer)
	if err != nil {
		return fmt.Errorf("install-backup-job on %s: %w", s.Member, err)
	}
	var runCmd string
	if j.Run {
		if len(j.Write) == 0 {
			return fmt.Errorf("install-backup-job on %s: run without job files", s.Member)
		}
		runCmd = backupjob.RunCommand(spec, sch)
	}
	if len(s.Uploads) > 0 {
		if err := x.upload(ctx, s); err != nil {
			return err
		}
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	inst := Job{Timer: j.Timer, StopTimers: j.StopTimers, Remove: j.Remove}
	if len(j.Write) > 0 {
		// With the job's directories, its log's: systemd opens
		// StandardOutput=append: before it makes LogsDirectory=
		// (systemd/systemd#27591), so it must be there before the first
		// run, by apply or by the timer.
		inst.Dirs = []string{path.Dir(backupjob.DefaultLog)}
	}
	for _, f := range j.Write {
		inst.Files = append(inst.Files, File{Path: f.Path, Data: f.Content, Mode: 0o644})
	}
	x.ev("installing the backup job")
	if err := h.InstallJob(ctx, inst); err != nil {
		return fmt.Errorf("install-backup-job on %s: %w", s.Member, err)
	}
	if runCmd != "" {
		// The step's time bound includes BackupRunTimeout for this.
		x.ev("running the backup job once")
		r := JobRun{Command: runCmd, Log: backupjob.DefaultLog}
		if sch == backupjob.Systemd {
			r.Unit = backupjob.SystemdUnitName(s.Cluster) + ".service"
		}
		if err := h.RunJob(ctx, r); err != nil {
			return fmt.Errorf("running the backup job once on %s: %w", s.Member, err)
		}
	}
	return nil
}
