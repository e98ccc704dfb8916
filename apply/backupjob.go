package apply

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
)

// backupJob carries out an InstallBackupJob step (see plan.JobInstall for
// the order): it installs the etcdform binary the job runs (when the step
// uploads it: read and hash-checked like any upload), stops and removes a
// job being replaced or removed, writes the job's files, has systemd load
// and schedule a timer, and runs the job once when the plan says so.
func (x *executor) backupJob(ctx context.Context, s plan.Step) error {
	j := s.Job
	if j == nil {
		return fmt.Errorf("install-backup-job on %s: the step has no job", s.Member)
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
	reload := false
	for _, t := range j.StopTimers {
		x.ev("stopping " + t)
		// A timer systemd no longer knows is stopped already.
		if err := run("stopping "+t, "if systemctl cat "+shellQuote(t)+" >/dev/null 2>&1; then systemctl disable --now "+shellQuote(t)+"; fi"); err != nil {
			return err
		}
	}
	for _, p := range j.Remove {
		x.ev("removing " + p)
		if err := run("removing "+p, "rm -f -- "+shellQuote(p)); err != nil {
			return err
		}
		reload = reload || isUnit(p)
	}
	for _, f := range j.Write {
		x.ev("writing " + f.Path)
		if err := run("creating "+path.Dir(f.Path), "mkdir -p -- "+shellQuote(path.Dir(f.Path))); err != nil {
			return err
		}
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
	if j.RunCommand != "" {
		x.ev("running the backup job once")
		if err := run("running the backup job once", j.RunCommand); err != nil {
			out, _ := h.Run(ctx, "tail -n 5 "+backupjob.DefaultLog)
			return fmt.Errorf("%w; the job is installed but failed its first run%s", err, tail(out))
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
