package plan

import (
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/internal/cron"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// backupFreshness warns when the cluster's newest backup is older than
// twice its schedule's interval, or when the destination could not be
// listed. When the destination holds no backup of the cluster it refuses
// the plan if the job is installed (as observed) on a host of `on` and
// the plan does not run it: a job is in place and still nothing was ever
// backed up. It only warns when the plan installs a job that apply runs
// once (that run makes the first backup), when no installed job was seen
// (a host of `on` unreachable: refusing would block the plan that
// replaces it), and for a file:// destination (a same-named directory
// where etcdform runs may not be the hosts' mount). It runs after
// backupJobs.
func (cp *clusterPlanner) backupFreshness(now time.Time) {
	b := cp.c.Backup
	if b == nil || cp.oc == nil || cp.oc.Backups == nil {
		return
	}
	ob := cp.oc.Backups
	switch {
	case ob.Error != "":
		cp.warn("", "Backups not observed", "Listing %s failed: %s. Backup freshness is unknown.", ob.Destination, ob.Error)
	case ob.Count == 0 && cp.runsBackupJob():
		cp.warn("", "No backup yet", "%s holds no backup of cluster %s. Apply runs the backup job once after installing it, and fails if that run fails.",
			ob.Destination, cp.c.Name)
	case ob.Count == 0 && (!cp.backupJobInstalled() || strings.HasPrefix(ob.Destination, "file://")):
		cp.warn("", "No backup", "%s holds no backup of cluster %s. Check the job on %s's host and its log, %s.",
			ob.Destination, cp.c.Name, firstOf(b.On), backupjob.DefaultLog)
	case ob.Count == 0:
		cp.refuse("", 0, "No backup", "%s holds no backup of cluster %s, and this plan does not install a job that would make one. Run `etcdform backup run` on %s's host (or `systemctl start %s.service` / the cron line there) and check its log, %s, then plan again.",
			ob.Destination, cp.c.Name, firstOf(b.On), backupjob.SystemdUnitName(cp.c.Name), backupjob.DefaultLog)
	case !now.IsZero():
		iv, err := cron.Interval(b.Schedule, now.Add(-366*24*time.Hour))
		if err != nil {
			return // the schedule was validated; a schedule that never fires has no freshness
		}
		if age := now.Sub(ob.Newest); age > 2*iv {
			cp.warn("", "Stale backups", "The newest backup at %s is %s old, but the schedule %q runs at least every %s, so it should be at most %s old. Check the job's log and its etcdform_backup_* metrics.",
				ob.Destination, age.Round(time.Minute), b.Schedule, iv, 2*iv)
		}
	}
}

// runsBackupJob reports whether the plan runs the cluster's backup job
// once after installing it.
func (cp *clusterPlanner) runsBackupJob() bool {
	for _, s := range cp.steps {
		if s.Action == InstallBackupJob && s.Job != nil && s.Job.Run {
			return true
		}
	}
	return false
}

// backupJobInstalled reports whether a reachable host of backup.on holds
// an installed job of the cluster.
func (cp *clusterPlanner) backupJobInstalled() bool {
	for _, name := range cp.c.Backup.On {
		if h := cp.oc.Hosts[name]; h != nil && h.Reachable && len(h.BackupJob) > 0 {
			return true
		}
	}
	return false
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return "the backup member"
	}
	return s[0]
}

// Tool is the etcdform binary on the machine that plans: apply uploads it
// to the hosts that run backup jobs.
type Tool struct {
	Path    string // local path, read again (and hash-checked) at apply time
	SHA256  string
	Version string // what `etcdform version` says, for display
}

// backupJobs plans the backup job on every reachable member's host: on
// the hosts of `on` it must be installed as the backup block renders it,
// under the scheduler of the cluster's service manager (a systemd timer
// where systemd runs etcd, else cron), and the binary it runs must be the
// planning one, when Tool is set; a job of the other scheduler is removed.
// Elsewhere, a job etcdform installed is removed.
func (cp *clusterPlanner) backupJobs() {
	if cp.oc == nil {
		return
	}
	c, b := cp.c, cp.c.Backup
	sch := backupjob.SchedulerFor(c.Service.Manager)
	other := backupjob.Cron
	if sch == backupjob.Cron {
		other = backupjob.Systemd
	}
	for _, m := range c.Members {
		h := cp.oc.Hosts[m.Name]
		if h == nil || !h.Reachable {
			continue
		}
		if b == nil || !contains(b.On, m.Name) {
			if job := removeJob(c.Name, h, backupjob.Cron, backupjob.Systemd); job != nil {
				removeCredentials(job, h)
				cp.addJobStep(m.Name, job, nil, []Change{{Attr: "job", Before: "installed", After: "(absent)"}},
					"Remove the backup job (and its S3 credentials): this member is not in backup.on")
			}
			continue
		}
		want := BackupJobSpec(c, m, cp.opts.Tool.SHA256)
		job := removeJob(c.Name, h, other)
		if job == nil {
			job = &JobInstall{}
		}
		var changes []Change
		if len(job.Remove) > 0 {
			changes = append(changes, Change{Attr: "scheduler", Before: string(other), After: string(sch)})
		}
		if !hasAny(h.BackupJob, backupjob.Paths(c.Name, sch)) {
			if len(changes) == 0 {
				changes = append(changes, Change{Attr: "job", Before: "(absent)", After: want.Schedule})
			}
		} else if got, err := backupjob.Parse(c.Name, sch, h.BackupJob); err != nil {
			changes = append(changes, Change{Attr: "job", Before: err.Error(), After: want.Schedule})
		} else {
			if cp.opts.Tool.SHA256 == "" {
				want.BinarySHA256 = got.BinarySHA256 // the binary is not managed by this plan
			}
			for _, d := range backupjob.DiffJob(want, &got) {
				changes = append(changes, Change{Attr: d.Attr, Before: d.Before, After: d.After})
			}
		}
		if sch == backupjob.Systemd && h.Init == "other" {
			cp.refuse(m.Name, 0, "No systemd on the host", "service.manager = \"systemd\", but systemd does not run %s's host (%s has no /run/systemd/system), so the backup timer cannot be installed there. Fix service.manager, or the host.", m.Name, m.Host)
			continue
		}
		if sch == backupjob.Systemd && h.BackupTimer != "" && h.BackupTimer != timerRunning {
			changes = append(changes, Change{Attr: "timer", Before: h.BackupTimer, After: timerRunning})
		}
		var uploads []Upload
		if cp.opts.Tool.SHA256 != "" && h.ToolSHA256 != cp.opts.Tool.SHA256 {
			uploads = []Upload{{Role: "etcdform-binary", Path: want.Binary, Source: cp.opts.Tool.Path, SHA256: cp.opts.Tool.SHA256, Mode: 0o755}}
			if !hasAttr(changes, "binary_sha256") {
				changes = append(changes, Change{Attr: "binary_sha256", Before: orAbsent(h.ToolSHA256), After: cp.opts.Tool.SHA256})
			}
			if v := cp.opts.Tool.Version; v != "" && h.ToolVersion != v {
				changes = append(changes, Change{Attr: "binary_version", Before: orAbsent(h.ToolVersion), After: v})
			}
		}
		if b.S3 != nil && b.S3.CredentialsSource != "" {
			switch sum := cp.oc.CredentialsSHA256; {
			case sum == "":
				cp.refuse(m.Name, 0, "S3 credentials source unreadable", "The backup block's s3.credentials_source %s cannot be read: %s.", b.S3.CredentialsSource, cp.oc.CredentialsError)
			case h.BackupEnvSHA256 != sum:
				uploads = append(uploads, Upload{Role: "backup-credentials", Path: want.EnvFile, Source: b.S3.CredentialsSource, SHA256: sum, Mode: 0o600})
				changes = append(changes, Change{Attr: "credentials", Before: orAbsent(h.BackupEnvSHA256), After: sum})
			}
		}
		if len(changes) == 0 {
			continue
		}
		files, err := backupjob.Render(want, sch)
		if err != nil { // validation refuses such values; this is a backstop
			cp.refuseRender(m.Name, err)
			continue
		}
		job.Scheduler = string(sch)
		for _, f := range files {
			job.Write = append(job.Write, File{Path: f.Path, Content: f.Content, Observed: h.BackupJob[f.Path]})
		}
		if sch == backupjob.Systemd {
			job.Timer = backupjob.TimerUnit(c.Name)
		}
		job.Run = runAfter(changes)
		cp.addJobStep(m.Name, job, uploads, changes, "Install the backup job as the backup block declares it")
	}
}

// timerRunning is BackupTimer of a timer that will fire.
const timerRunning = "enabled active"

// removeJob is the work that removes cluster's job files of the given
// schedulers from h, with the .bak copies apply's writes left of them;
// nil when none is there.
func removeJob(cluster string, h *state.Host, schs ...backupjob.Scheduler) *JobInstall {
	var job JobInstall
	for _, sch := range schs {
		for _, p := range backupjob.Paths(cluster, sch) {
			if h.BackupJob[p] != nil {
				job.Remove = append(job.Remove, p, p+".bak")
			}
		}
		if sch == backupjob.Systemd && hasAny(h.BackupJob, backupjob.Paths(cluster, sch)) {
			job.StopTimers = append(job.StopTimers, backupjob.TimerUnit(cluster))
		}
	}
	if len(job.Remove) == 0 {
		return nil
	}
	return &job
}

// removeCredentials adds the job's credentials file, and the copy a
// replaced one left, to job's removals when the host has them.
func removeCredentials(job *JobInstall, h *state.Host) {
	if h.BackupEnvSHA256 != "" {
		job.Remove = append(job.Remove, backupjob.DefaultEnvFile, backupjob.DefaultEnvFile+".bak")
	}
}

// runAfter reports whether apply runs the job once after installing it:
// when it is new, or anything but its schedule or timer state changed.
func runAfter(changes []Change) bool {
	for _, c := range changes {
		if c.Attr != "schedule" && c.Attr != "timer" {
			return true
		}
	}
	return false
}

func hasAny(files map[string][]byte, paths []string) bool {
	for _, p := range paths {
		if files[p] != nil {
			return true
		}
	}
	return false
}

func (cp *clusterPlanner) addJobStep(member string, job *JobInstall, uploads []Upload, changes []Change, reason string) {
	var id uint64
	if lm := cp.oc.Member(member); lm != nil {
		id = lm.ID
	}
	v, t := cp.tolerance()
	cp.steps = append(cp.steps, Step{Action: InstallBackupJob, Cluster: cp.c.Name, Member: member, MemberID: id,
		Reason: reason, Changes: changes, Job: job, Uploads: uploads, Voters: v, Tolerated: t})
}

func hasAttr(cs []Change, attr string) bool {
	for _, c := range cs {
		if c.Attr == attr {
			return true
		}
	}
	return false
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

// BackupJobSpec is the backup job cluster c wants on member's host;
// binarySHA256 is the hash of the binary apply installs at
// backupjob.DefaultBinary.
func BackupJobSpec(c *schema.Cluster, member *schema.Member, binarySHA256 string) backupjob.JobSpec {
	b := c.Backup
	s := backupjob.JobSpec{Version: backupjob.JobFormatVersion, Cluster: c.Name, Member: member.Name, Schedule: b.Schedule,
		Binary: backupjob.DefaultBinary, BinarySHA256: binarySHA256, Endpoint: member.ClientURL, Destination: b.Destination,
		Recipient: b.Recipient, AllowUnencrypted: b.AllowUnencrypted, KeepLast: b.KeepLast, MaxAge: b.MaxAge,
		Textfile: backupjob.DefaultTextfile, EnvFile: backupjob.DefaultEnvFile, WorkDir: backupjob.DefaultWorkDir}
	if b.S3 != nil {
		s.S3Endpoint, s.S3Region, s.S3PathStyle = b.S3.Endpoint, b.S3.Region, b.S3.PathStyle
	}
	// On an https endpoint the job verifies and authenticates with the
	// member's own client-side files on the host (the runner's tls.tool
	// files are not there).
	if t := member.TLS; t != nil && t.Client != nil && strings.HasPrefix(member.ClientURL, "https://") {
		s.EtcdCA, s.EtcdCert, s.EtcdKey = t.Client.CA.Path, t.Client.Cert.Path, t.Client.Key.Path
	}
	return s
}
