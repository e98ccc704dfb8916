package plan

import (
	"time"

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
