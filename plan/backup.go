package plan

import (
	"time"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/internal/cron"
)

// ObservedBackups is what a cluster's backup destination held when it was
// observed: only facts about the newest snapshot, never its content.
type ObservedBackups struct {
	Destination string
	Count       int       // complete snapshots of this cluster
	Newest      time.Time // zero when Count is 0
	// Error says why the destination could not be listed (no
	// credentials, unreachable); the other fields are then unknown.
	Error string
}

// backupFreshness warns when the cluster's newest backup is older than
// twice its schedule's interval, when there is none, or when the
// destination could not be listed. It is a warning, not a refusal: the
// plan that installs a first backup job must stay applicable.
func (cp *clusterPlanner) backupFreshness(now time.Time) {
	b := cp.c.Backup
	if b == nil || cp.oc == nil || cp.oc.Backups == nil {
		return
	}
	ob := cp.oc.Backups
	switch {
	case ob.Error != "":
		cp.warn("", "Backups not observed", "Listing %s failed: %s. Backup freshness is unknown.", ob.Destination, ob.Error)
	case ob.Count == 0:
		cp.warn("", "No backup", "%s holds no backup of cluster %s. Run `etcdform backup run` on %s's host, or check the job there.",
			ob.Destination, cp.c.Name, firstOf(b.On))
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

func firstOf(s []string) string {
	if len(s) == 0 {
		return "the backup member"
	}
	return s[0]
}

// Tool is the etcdform binary on the machine that plans: apply uploads it
// to the hosts that run backup jobs.
type Tool struct {
	Path   string // local path, read again (and hash-checked) at apply time
	SHA256 string
}

// backupJobs plans the backup job on every reachable member's host: on
// the hosts of `on` it must be installed as the backup block renders it
// (and the binary it runs must be the planning one, when Tool is set);
// elsewhere, a job etcdform installed is removed.
func (cp *clusterPlanner) backupJobs() {
	if cp.oc == nil {
		return
	}
	c, b := cp.c, cp.c.Backup
	for _, m := range c.Members {
		h := cp.oc.Hosts[m.Name]
		if h == nil || !h.Reachable {
			continue
		}
		if b == nil || !contains(b.On, m.Name) {
			if h.BackupJob != nil {
				cp.addJobStep(m.Name, nil, nil, []Change{{Attr: "job", Before: "installed", After: "(absent)"}},
					"Remove the backup job: this member is not in backup.on")
			}
			continue
		}
		want := backupjob.SpecFor(c, m, cp.opts.Tool.SHA256)
		var changes []Change
		if h.BackupJob == nil {
			changes = append(changes, Change{Attr: "job", Before: "(absent)", After: want.Schedule})
		} else if got, err := backupjob.ParseCron(h.BackupJob); err != nil {
			changes = append(changes, Change{Attr: "job", Before: err.Error(), After: want.Schedule})
		} else {
			if cp.opts.Tool.SHA256 == "" {
				want.BinarySHA256 = got.BinarySHA256 // the binary is not managed by this plan
			}
			for _, d := range backupjob.DiffJob(want, &got) {
				changes = append(changes, Change{Attr: d.Attr, Before: d.Before, After: d.After})
			}
		}
		var uploads []Upload
		if cp.opts.Tool.SHA256 != "" && h.ToolSHA256 != cp.opts.Tool.SHA256 {
			uploads = []Upload{{Role: "etcdform-binary", Path: want.Binary, Source: cp.opts.Tool.Path, SHA256: cp.opts.Tool.SHA256, Mode: 0o755}}
			if !hasAttr(changes, "binary_sha256") {
				changes = append(changes, Change{Attr: "binary_sha256", Before: orAbsent(h.ToolSHA256), After: cp.opts.Tool.SHA256})
			}
		}
		if len(changes) > 0 {
			cp.addJobStep(m.Name, backupjob.RenderCron(want), uploads, changes, "Install the backup job as the backup block declares it")
		}
	}
}

func (cp *clusterPlanner) addJobStep(member string, file []byte, uploads []Upload, changes []Change, reason string) {
	var id uint64
	if lm := cp.oc.Member(member); lm != nil {
		id = lm.ID
	}
	v, a := cp.counts()
	cp.steps = append(cp.steps, Step{Action: InstallBackupJob, Cluster: cp.c.Name, Member: member, MemberID: id,
		Reason: reason, Changes: changes, Config: file, Uploads: uploads, Voters: v, Tolerated: a - quorum(v)})
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
