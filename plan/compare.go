package plan

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/etcdform/etcdform/internal/lcs"
	"github.com/etcdform/etcdform/state"
)

// PinLeaders sets, in obs, the leader of every cluster to the member the
// saved steps mark as leading (Step.Leader), or to none when no step of
// the cluster is marked: so that Make, run again on a fresh observation,
// orders the steps as they were planned even when leadership moved since.
// The leader only decides where a member's restart or removal sits (last)
// and a display flag; apply moves leadership away from whichever member
// leads when such a step runs, so any member may be assumed to lead. It
// returns one line per cluster whose steps mark more than one member.
func PinLeaders(obs *state.Observed, saved []Step) []string {
	leaders := map[string]uint64{}
	var out []string
	for i, s := range saved {
		if !s.Leader {
			continue
		}
		id, seen := leaders[s.Cluster]
		if seen && id != s.MemberID {
			out = append(out, fmt.Sprintf("step %d (%s): marked as the leader, but an earlier step marks member %x of cluster %s", i+1, title(s), id, s.Cluster))
			continue
		}
		leaders[s.Cluster] = s.MemberID
	}
	if obs == nil {
		return out
	}
	for name, oc := range obs.Clusters {
		if oc != nil {
			oc.LeaderID = leaders[name]
		}
	}
	return out
}

// CompareSteps lists, one line each, how the steps of a saved plan differ
// from the steps derived again (fresh) from the same configuration and a
// fresh observation of the clusters, with the leaders pinned (PinLeaders).
// It returns nil when apply would carry out the same work either way.
//
// Steps are aligned by action, cluster and member, in order; a step only
// in saved, one only in fresh, or the same steps in another order are
// differences. Aligned steps must agree on everything apply acts on: the
// member ID, peer URL, config bytes, uploads (role, path, source, hash,
// mode), the backup job (scheduler, files and their content, timer, timers
// to stop, files to remove, whether it runs), HostDown, and the voters and
// failures tolerated. What the plan shows for a step must agree too (its
// changes, and the files on the host its writes are shown as diffs
// against), so that what a reviewer read is what the configuration gives,
// except the observed numbers of compact and defrag steps (a saved compact
// revision may be older than the fresh one, never newer). Reason (prose) and
// Leader (display: apply moves leadership at run time) are ignored, and so
// are fresh disarm-alarm steps that a saved one of the same alarm type
// covers (dropLaterAlarms: a member that raised its own NOSPACE since the
// plan), and a defrag step in only one of the two lists (a member whose
// fragmentation crossed the maintenance block's threshold since the plan,
// either way: apply carries out the saved defrags).
func CompareSteps(saved, fresh []Step) []string {
	var out []string
	fresh = dropLaterAlarms(saved, fresh)
	pairs := alignSteps(saved, fresh)
	for _, pr := range pairs {
		switch {
		case pr.B < 0 && saved[pr.A].Action == Defrag, pr.A < 0 && fresh[pr.B].Action == Defrag:
			// Which members a routine defrag selects moves with every
			// write (their free share against fragmentation_above), and
			// a defrag is maintenance: safe to run unreviewed, touching
			// no live key. Apply carries out the saved ones.
			continue
		case pr.B < 0:
			s := saved[pr.A]
			out = append(out, fmt.Sprintf("step %d (%s): in the plan, but the configuration and the clusters now give no such step there", pr.A+1, title(s)))
		case pr.A < 0:
			f := fresh[pr.B]
			out = append(out, fmt.Sprintf("step %s is missing: the configuration and the clusters now give it as step %d", title(f), pr.B+1))
		default:
			for _, d := range diffStep(saved[pr.A], fresh[pr.B]) {
				out = append(out, fmt.Sprintf("step %d (%s): %s", pr.A+1, title(saved[pr.A]), d))
			}
		}
	}
	return out
}

// dropLaterAlarms returns fresh without the disarm-alarm steps of alarms
// raised since the plan was made that a saved disarm-alarm step clears
// anyway: one of the same alarm type in the same cluster, of a member no
// saved step disarms. Each member raises NOSPACE for itself as it applies
// the write that failed the quota check, so one may raise it after the
// plan observed the others; apply's disarm clears the NOSPACE alarms of
// every member (apply.Etcd.AlarmDisarm), after a recovery that covered
// every member. That is the only difference a raised alarm makes to the
// steps, and the only one accepted: an alarm with no saved disarm of its
// type (the first NOSPACE, a CORRUPT) still differs.
func dropLaterAlarms(saved, fresh []Step) []Step {
	type key struct {
		cluster, alarm string
	}
	types := map[key]bool{}
	members := map[key]map[uint64]bool{}
	for _, s := range saved {
		if s.Action == DisarmAlarm {
			k := key{s.Cluster, s.Alarm}
			types[k] = true
			if members[k] == nil {
				members[k] = map[uint64]bool{}
			}
			members[k][s.MemberID] = true
		}
	}
	var out []Step
	for _, f := range fresh {
		if k := (key{f.Cluster, f.Alarm}); f.Action == DisarmAlarm && types[k] && !members[k][f.MemberID] {
			continue
		}
		out = append(out, f)
	}
	return out
}

// title is "write-config etcd-1", "snapshot lab", "remove-member 8e9e05c52164694d".
func title(s Step) string {
	switch {
	case s.Member != "":
		return s.Action.String() + " " + s.Member
	case s.MemberID != 0:
		return fmt.Sprintf("%s %x", s.Action, s.MemberID)
	}
	return s.Action.String() + " " + s.Cluster
}

// alignSteps aligns two step lists by their longest common subsequence
// of (action, cluster, member), so that one inserted or removed step is
// reported as that step alone.
func alignSteps(a, b []Step) []lcs.Pair {
	key := func(steps []Step) []string {
		var out []string
		for _, s := range steps {
			out = append(out, fmt.Sprintf("%c\x00%s\x00%s", s.Action, s.Cluster, s.Member))
		}
		return out
	}
	return lcs.Align(key(a), key(b))
}

// comparable is the changes as the re-derivation compares them. A
// running-config change shows two observed times, the process start and
// the file's mtime; the process start is derived from the host's clock
// and uptime, which are read a moment apart, so it moves by up to a few
// milliseconds between two observations and its whole second can flip
// (CI: "process started 07:10:19Z" in the plan, "07:10:18Z" at apply).
// The restart it asks for is the same; a process restarted since, or a
// file no longer newer, drops the step itself, which the alignment sees.
func comparable(cs []Change) []Change {
	var out []Change
	for _, c := range cs {
		if c.Attr == "running-config" {
			c.Before, c.After = "", ""
		}
		out = append(out, c)
	}
	return out
}

// diffStep compares two steps with the same action, cluster and member.
func diffStep(s, f Step) []string {
	var out []string
	field := func(what string, planned, now any) {
		if planned != now {
			out = append(out, fmt.Sprintf("%s is %v in the plan, %v now", what, planned, now))
		}
	}
	field("the member ID", fmt.Sprintf("%x", s.MemberID), fmt.Sprintf("%x", f.MemberID))
	field("the peer URL", quoted(s.PeerURL), quoted(f.PeerURL))
	field("host_down", s.HostDown, f.HostDown)
	field("the voter count", s.Voters, f.Voters)
	field("the failures tolerated", s.Tolerated, f.Tolerated)
	if d := diffContent(s.Config, f.Config, fromConfig); d != "" {
		out = append(out, "the config to write differs: "+d)
	}
	if d := diffContent(s.ConfigObserved, f.ConfigObserved, fromHost); d != "" {
		out = append(out, "the config file shown as on the host differs from the one there now: "+d)
	}
	field("the alarm", quoted(s.Alarm), quoted(f.Alarm))
	field("the version", quoted(s.Version), quoted(f.Version))
	// A compact step's revision and the sizes a compact or defrag step
	// shows are observations that move with every write: apply compacts
	// to the saved revision, which is safe as long as it is not past the
	// one planned now (an older revision keeps more history).
	if s.Revision > f.Revision {
		out = append(out, fmt.Sprintf("the compact revision is %d in the plan, past %d that the configuration and the clusters give now", s.Revision, f.Revision))
	}
	if s.Action != Compact && s.Action != Defrag && !slices.Equal(comparable(s.Changes), comparable(f.Changes)) {
		out = append(out, fmt.Sprintf("the changes shown differ: %s in the plan, %s now", changeList(s.Changes), changeList(f.Changes)))
	}
	if !slices.Equal(s.Uploads, f.Uploads) {
		out = append(out, fmt.Sprintf("the uploads differ: %s in the plan, %s now", uploadList(s.Uploads), uploadList(f.Uploads)))
	}
	out = append(out, diffJob(s.Job, f.Job)...)
	if !reflect.DeepEqual(s.Backup, f.Backup) {
		out = append(out, fmt.Sprintf("the backup differs: %s in the plan, %s now", backupLabel(s.Backup), backupLabel(f.Backup)))
	}
	if !reflect.DeepEqual(s.Target, f.Target) {
		out = append(out, fmt.Sprintf("the target differs: %s in the plan, %s now", targetLabel(s.Target), targetLabel(f.Target)))
	}
	return out
}

func backupLabel(b *BackupSnapshot) string {
	if b == nil {
		return "none"
	}
	return fmt.Sprintf("%s (sha256 %s, revision %d)", b.ID, b.SHA256, b.Revision)
}

func diffJob(s, f *JobInstall) []string {
	switch {
	case s == nil && f == nil:
		return nil
	case s == nil:
		return []string{"the plan has no backup job work, but the configuration gives some"}
	case f == nil:
		return []string{"the plan has backup job work the configuration does not give"}
	}
	var out []string
	list := func(what string, planned, now []string) {
		if !slices.Equal(planned, now) {
			out = append(out, fmt.Sprintf("the backup job's %s are [%s] in the plan, [%s] now", what, strings.Join(planned, ", "), strings.Join(now, ", ")))
		}
	}
	if s.Scheduler != f.Scheduler {
		out = append(out, fmt.Sprintf("the backup job's scheduler is %q in the plan, %q now", s.Scheduler, f.Scheduler))
	}
	if s.Timer != f.Timer {
		out = append(out, fmt.Sprintf("the backup job's timer is %q in the plan, %q now", s.Timer, f.Timer))
	}
	if s.Run != f.Run {
		out = append(out, fmt.Sprintf("running the backup job once is %v in the plan, %v now", s.Run, f.Run))
	}
	list("timers to stop", s.StopTimers, f.StopTimers)
	list("files to remove", s.Remove, f.Remove)
	list("files to write", filePaths(s.Write), filePaths(f.Write))
	if slices.Equal(filePaths(s.Write), filePaths(f.Write)) {
		for i := range s.Write {
			if d := diffContent(s.Write[i].Content, f.Write[i].Content, fromConfig); d != "" {
				out = append(out, fmt.Sprintf("the backup job file %s differs: %s", s.Write[i].Path, d))
			}
			if d := diffContent(s.Write[i].Observed, f.Write[i].Observed, fromHost); d != "" {
				out = append(out, fmt.Sprintf("the backup job file %s shown as on the host differs from the one there now: %s", s.Write[i].Path, d))
			}
		}
	}
	return out
}

// Where the content diffContent compares the plan's with comes from.
const (
	fromConfig = "the configuration gives"
	fromHost   = "the host has"
)

// diffContent says which lines a planned file has that the derived one
// (from: fromConfig or fromHost) lacks and the reverse, or "" when they
// are equal.
func diffContent(planned, now []byte, from string) string {
	if bytes.Equal(planned, now) {
		return ""
	}
	count := map[string]int{}
	for _, l := range lines(now) {
		count[l]++
	}
	var extra []string
	for _, l := range lines(planned) {
		if count[l] > 0 {
			count[l]--
			continue
		}
		extra = append(extra, quoted(l))
	}
	var missing []string
	for _, l := range lines(now) {
		if count[l] > 0 {
			count[l]--
			missing = append(missing, quoted(l))
		}
	}
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, "the plan has "+strings.Join(extra, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, from+" "+strings.Join(missing, ", "))
	}
	if len(parts) == 0 {
		return "the same lines in another order or with other line ends"
	}
	return strings.Join(parts, "; ") + " instead"
}

func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func quoted(s string) string { return fmt.Sprintf("%q", s) }

func changeList(cs []Change) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s: %q -> %q", c.Attr, c.Before, c.After))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func uploadList(us []Upload) string {
	var parts []string
	for _, u := range us {
		parts = append(parts, fmt.Sprintf("%s %s from %s (%s, %04o)", u.Role, u.Path, u.Source, u.SHA256, u.Mode))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func filePaths(fs []File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

// StepsOf returns the steps of the clusters in accepts, in order.
func StepsOf(steps []Step, in func(cluster string) bool) []Step {
	var out []Step
	for _, s := range steps {
		if in(s.Cluster) {
			out = append(out, s)
		}
	}
	return out
}

// TargetsOf returns the cluster targets of the clusters in accepts.
func TargetsOf(ts []ClusterTarget, in func(cluster string) bool) []ClusterTarget {
	var out []ClusterTarget
	for _, t := range ts {
		if in(t.Name) {
			out = append(out, t)
		}
	}
	return out
}
