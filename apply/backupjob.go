package apply

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
)

// backupJob carries out an InstallBackupJob step, in plan.JobInstall's
// order: it installs the etcdform binary and the S3 credentials the job
// uses (when the step uploads them: read and hash-checked like any
// upload), writes the job's files and has systemd load and schedule its
// timer; only with the new job in place does it stop and remove a job
// being replaced or removed; then it runs the job once when the plan says
// so, with the command derived from the files it wrote.
func (x *executor) backupJob(ctx context.Context, s plan.Step) error {
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
	h, err := x.host(ctx, s.Member)
	if err != nil {
		return err
	}
	run := func(what, cmd string) error {
		if out, err := h.Run(ctx, cmd); err != nil {
			return fmt.Errorf("%s on %s: %w%s", what, s.Member, err, tail(out))
		}
		return nil
	}
	for _, u := range s.Uploads {
		if u.Role == "backup-credentials" {
			// No copy of the replaced secret is kept.
			if err := run("removing "+u.Path+".bak", "rm -f -- "+shellQuote(u.Path+".bak")); err != nil {
				return err
			}
		}
	}
	if len(j.Write) > 0 {
		// With the job's directories, its log's: systemd opens
		// StandardOutput=append: before it makes LogsDirectory=
		// (systemd/systemd#27591), so it must be there before the first
		// run, by apply or by the timer.
		dirs := []string{backupjob.DefaultLog}
		for _, f := range j.Write {
			dirs = append(dirs, f.Path)
		}
		if err := mkdirsFor(ctx, h, dirs); err != nil {
			return fmt.Errorf("install-backup-job on %s: %w", s.Member, err)
		}
	}
	reload := false
	for _, f := range j.Write {
		x.ev("writing " + f.Path)
		if err := h.WriteFile(ctx, f.Path, f.Content, 0o644); err != nil {
			return err
		}
		reload = reload || isUnit(f.Path)
	}
	if reload {
		x.ev("systemctl daemon-reload")
		if err := run("systemctl daemon-reload", "systemctl daemon-reload"); err != nil {
			return err
		}
	}
	if t := j.Timer; t != "" {
		// restart, not start: a running timer keeps its old next elapse.
		x.ev("enabling " + t)
		if err := run("enabling "+t, "systemctl enable "+shellQuote(t)+" && systemctl restart "+shellQuote(t)); err != nil {
			return err
		}
	}
	// What is removed may belong to a host systemd no longer runs (the
	// job moved to cron): systemctl is used only where systemd runs.
	const ifSystemd = "if [ -d /run/systemd/system ]; then "
	for _, t := range j.StopTimers {
		x.ev("stopping " + t)
		if err := run("stopping "+t, ifSystemd+"if systemctl cat "+shellQuote(t)+" >/dev/null 2>&1; then systemctl disable --now "+shellQuote(t)+"; fi; fi"); err != nil {
			return err
		}
	}
	unitRemoved := false
	for _, p := range j.Remove {
		x.ev("removing " + p)
		if err := run("removing "+p, "rm -f -- "+shellQuote(p)); err != nil {
			return err
		}
		unitRemoved = unitRemoved || isUnit(p)
	}
	if unitRemoved {
		x.ev("systemctl daemon-reload")
		if err := run("systemctl daemon-reload", ifSystemd+"systemctl daemon-reload; fi"); err != nil {
			return err
		}
	}
	if runCmd != "" {
		// The step's time bound includes BackupRunTimeout for this.
		x.ev("running the backup job once")
		if out, err := h.Run(ctx, runCmd); err != nil {
			// Even when the step's time ran out: say why it failed.
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			diag := "tail -n 5 " + shellQuote(backupjob.DefaultLog)
			if sch == backupjob.Systemd {
				diag = "systemctl status --no-pager --lines=0 " + shellQuote(backupjob.SystemdUnitName(s.Cluster)+".service") + " 2>&1 | grep -E 'Active:|Process:'; " + diag
			}
			logTail, _ := h.Run(tctx, diag)
			return fmt.Errorf("running the backup job once on %s: %w%s; the job is installed but failed its first run%s", s.Member, err, tail(out), tail(logTail))
		}
	}
	return nil
}

// isUnit reports whether p is a systemd unit file.
func isUnit(p string) bool {
	return strings.HasSuffix(p, ".service") || strings.HasSuffix(p, ".timer")
}

// tail formats command output for an error message.
func tail(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	return ":\n" + out
}
