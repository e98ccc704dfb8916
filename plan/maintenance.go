package plan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// maintenance is the phase after checks: it turns raised alarms into the
// production guide's recovery, or, without alarms, the maintenance block
// into routine defragmentation (routineDefrag), as steps before any other
// change of the cluster (the phases after it append theirs behind).
//
//   - CORRUPT: a refusal naming the member. It is never disarmed: the
//     member's data differs from the others', and only replacing the
//     member (or restoring) recovers it.
//   - NOSPACE: compact (compactRevision), defragment every member that
//     answers, one per step, followers first and the leader last, then
//     disarm each NOSPACE alarm (nospaceRecovery). When the plan raises
//     the quota, the disarms wait until the rolling change that raises it
//     is done (disarmLater), so that a database whose live data fills the
//     old quota does not raise NOSPACE again on the first write.
//
// It reports whether planning goes on: not while CORRUPT is raised.
func (cp *clusterPlanner) maintenance() bool {
	var nospace []state.Alarm
	corrupt := false
	for _, al := range cp.oc.Alarms {
		switch al.Type {
		case "CORRUPT":
			corrupt = true
			who := cp.alarmMember(al.MemberID)
			cp.refuse(who, 0, "Data corruption alarm raised",
				"Member %s raised the CORRUPT alarm: its data differs from the other members'. etcdform never disarms it, and plans nothing for cluster %s while it is raised. Recover by hand: take a snapshot from a healthy member, remove %s (etcdctl member remove %x), move its data dir's member/ aside on its host, disarm the alarm (etcdctl alarm disarm), and plan again, which adds the member back as a learner that copies a healthy member's data.",
				who, cp.c.Name, who, al.MemberID)
		case "NOSPACE":
			nospace = append(nospace, al)
		}
	}
	switch {
	case corrupt:
		return false
	case len(nospace) > 0:
		cp.nospaceRecovery(nospace)
	default:
		cp.routineDefrag()
	}
	return true
}

// routineDefrag defragments, one per step, followers first and the leader
// last, the members the maintenance block's defrag policy selects: those
// whose free share of the DB file, (dbSize - dbSizeInUse) / dbSize, is
// above fragmentation_above and where at least min_reclaimable would be
// reclaimed. It does not compact: etcd's auto compaction
// (compaction.retention) owns the history.
func (cp *clusterPlanner) routineDefrag() {
	if cp.c.Maintenance == nil || cp.c.Maintenance.Defrag == nil {
		return
	}
	pol := cp.c.Maintenance.Defrag
	frag := func(st *state.EndpointStatus) float64 {
		if st.DBSize <= 0 {
			return 0
		}
		return 100 * float64(reclaimable(st)) / float64(st.DBSize)
	}
	want := func(m *member) bool {
		st := m.live.Status
		return frag(st) > pol.FragmentationAbove && reclaimable(st) >= pol.MinReclaimable && reclaimable(st) > 0
	}
	for _, m := range cp.defragOrder(want) {
		reason := fmt.Sprintf("%.0f%% of the DB file is free (fragmentation_above = %g%%, min_reclaimable = %s)",
			frag(m.live.Status), pol.FragmentationAbove, FormatSize(pol.MinReclaimable))
		cp.emit(cp.defragStep(m, reason), !m.live.IsLearner)
	}
}

// nospaceRecovery emits the guide's NOSPACE recovery: compact, defrag each
// member, disarm.
//
// Compaction frees only history. When live keys fill the quota, nothing the
// recovery does brings the database under it, and the first write after
// the disarm raises NOSPACE again; what the database holds after the
// compaction is not known at plan time (dbSizeInUse counts the history
// still to compact). So:
//
//   - when the plan raises the quota (quotaRaised), the disarms go after
//     the config writes and restarts that raise it (cp.disarmLater, emitted
//     by disarmAfterWork), whose gates tolerate the NOSPACE this plan
//     clears: the guide's order with step 5 before step 4, which works
//     whether history or live data filled the database;
//   - otherwise the disarms follow the defrags, and each carries the guard
//     apply checks before it disarms (Step.Quota): every member's DB, as
//     etcd reports it then, must keep the margin the planner asks of any
//     quota below the quota (model.DisarmLimit).
//     When it is not, apply stops before the disarm, saying to raise the
//     quota or delete keys. The plan says so in the step's reason; it does
//     not promise a recovery that apply cannot carry out.
func (cp *clusterPlanner) nospaceRecovery(alarms []state.Alarm) {
	cur := cp.currentRevision()
	if rev, why := compactRevision(cp.c.Compaction, cur, true); rev > 0 {
		v, t := cp.tolerance()
		cp.emit(Step{Action: Compact, Cluster: cp.c.Name, Revision: rev,
			Reason:  "NOSPACE is raised: compact the history so that defragmentation can reclaim its space (" + why + ")",
			Changes: []Change{{Attr: "revision", Before: strconv.FormatInt(cur, 10), After: strconv.FormatInt(rev, 10)}},
			Voters:  v, Tolerated: t}, false)
	}
	for _, m := range cp.defragOrder(func(*member) bool { return true }) {
		cp.emit(cp.defragStep(m, "NOSPACE is raised: defragment to give the freed space back"), !m.live.IsLearner)
	}
	sort.Slice(alarms, func(i, j int) bool { return alarms[i].MemberID < alarms[j].MemberID })
	running, raised := cp.quotaRaised()
	guard := func(quota int64) string {
		return fmt.Sprintf("Apply disarms only when every member's DB is at most %s then (the %s quota less the margin any quota keeps: the larger of 64 MiB and 10%% of the DB)",
			FormatSize(DisarmLimit(quota)), FormatSize(quota))
	}
	reason := "Disarm NOSPACE once the space is reclaimed, so that the cluster accepts writes again. " + guard(running)
	if raised {
		// History filled the quota (the common case): the cluster takes
		// writes again right after the defrags, not after the whole
		// rolling restart. Live keys filled it: this disarm waits for
		// the one after the raise (apply skips it, saying so).
		reason += fmt.Sprintf("; otherwise (live keys, not history, fill the quota) the alarm stays raised until the disarm after the quota raise from %s to %s below", FormatSize(running), FormatSize(cp.c.Storage.QuotaBackendBytes))
	} else {
		reason += "; otherwise it stops before the disarm, because the next writes would raise NOSPACE again: raise storage.quota_backend_bytes, or delete keys, and plan again"
	}
	later := fmt.Sprintf("Disarm NOSPACE if it is still raised once the quota is raised from %s to %s (the config writes and restarts before this step), so that the cluster accepts writes again even when live keys filled the old quota. %s; otherwise it stops before the disarm, because the next writes would raise NOSPACE again: raise storage.quota_backend_bytes further, or delete keys, and plan again",
		FormatSize(running), FormatSize(cp.c.Storage.QuotaBackendBytes), guard(cp.c.Storage.QuotaBackendBytes))
	for _, al := range alarms {
		s := Step{Action: DisarmAlarm, Cluster: cp.c.Name, Member: cp.alarmName(al.MemberID), MemberID: al.MemberID, Alarm: al.Type,
			Quota: running, Reason: reason, Changes: []Change{{Attr: "alarm", Before: al.Type, After: "(disarmed)"}}}
		s.Voters, s.Tolerated = cp.tolerance()
		cp.emit(s, false)
		if raised {
			s.Quota, s.Reason = cp.c.Storage.QuotaBackendBytes, later
			cp.disarmLater = append(cp.disarmLater, s)
		}
	}
}

// tolerance is the voters and the failures they tolerate at this point
// of the plan, for a step that changes neither.
func (cp *clusterPlanner) tolerance() (voters, tolerated int) {
	v, a := cp.counts()
	return v, a - quorum(v)
}

// disarmAfterWork emits the disarms nospaceRecovery left for after the
// quota raise (the phase after rollingWork).
func (cp *clusterPlanner) disarmAfterWork() {
	for _, s := range cp.disarmLater {
		s.Voters, s.Tolerated = cp.tolerance()
		cp.emit(s, false)
	}
}

// quotaRaised returns the quota the members run with (the smallest their
// config files hold; etcd's default for a file without one) and whether
// the configuration raises it. The config writes and restarts of a raise
// are the members' rolling work.
func (cp *clusterPlanner) quotaRaised() (running int64, raised bool) {
	for _, m := range cp.kept {
		h := cp.oc.Hosts[m.name]
		if h == nil || h.Config == nil {
			continue
		}
		q := h.Config.QuotaBackendBytes
		if q <= 0 {
			q = schema.DefaultQuotaBackendBytes
		}
		if running == 0 || q < running {
			running = q
		}
	}
	if running == 0 {
		return cp.c.Storage.QuotaBackendBytes, false
	}
	if keep := selections[cp.opts.Only]; keep != nil && (!keep(WriteConfig) || !keep(Restart)) {
		return running, false // the selection leaves the raise out
	}
	return running, cp.c.Storage.QuotaBackendBytes > running
}

// defragOrder returns the live members that answer and pass want, in
// rolling order: members reporting errors, followers, the leader last.
// Members that do not answer cannot be defragmented; they are left out.
func (cp *clusterPlanner) defragOrder(want func(*member) bool) []*member {
	var out []*member
	for _, m := range append(append([]*member{}, cp.kept...), cp.removed...) {
		if m.live != nil && !m.live.Down() && want(m) {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rollRank(out[i]), rollRank(out[j])
		if ri != rj {
			return ri < rj
		}
		return out[i].name < out[j].name
	})
	return out
}

// defragStep is a Defrag of m, showing the bytes it is expected to
// reclaim: dbSize - dbSizeInUse as observed (after a compaction in the
// same plan, more).
func (cp *clusterPlanner) defragStep(m *member, reason string) Step {
	v, a := cp.counts()
	if !m.live.IsLearner {
		a--
	}
	st := m.live.Status
	if m.leader {
		reason += "; the member leads, so it goes last"
	}
	return Step{Action: Defrag, Cluster: cp.c.Name, Member: m.name, MemberID: m.live.ID, Leader: m.leader, Reason: reason,
		Changes: []Change{{Attr: "db-size", Before: FormatSize(st.DBSize), After: defragAfter(st)}},
		Voters:  v, Tolerated: a - quorum(v)}
}

func defragAfter(st *state.EndpointStatus) string {
	return fmt.Sprintf("~%s (reclaims ~%s)", FormatSize(st.DBSizeInUse), FormatSize(reclaimable(st)))
}

// reclaimable is what a defragmentation is expected to give back.
func reclaimable(st *state.EndpointStatus) int64 { return max(0, st.DBSize-st.DBSizeInUse) }

// currentRevision is the keyspace revision observed: the highest any
// member answered (the leader's, when it answered).
func (cp *clusterPlanner) currentRevision() int64 {
	var rev int64
	for _, lm := range cp.oc.Members {
		if lm.Status != nil {
			rev = max(rev, lm.Status.Revision)
		}
	}
	return rev
}

// compactRevision is the revision a compact step compacts to, given the
// observed current revision cur, or 0 for no compaction; why says how it
// was chosen. It never compacts past what compaction.retention keeps,
// except where forced (an alarm that needs the space) for a periodic
// retention:
//
//   - mode "revision", retention N: cur - N (0 when that is not positive);
//   - mode "periodic", retention 0 (etcd's auto compaction off): cur;
//   - mode "periodic", retention > 0: which revision was current a
//     retention ago is not known, so: cur when forced (the retained
//     history is given up to recover from NOSPACE, as the guide does),
//     else 0 (etcd's own periodic compaction keeps up).
func compactRevision(c schema.Compaction, cur int64, forced bool) (int64, string) {
	if cur <= 0 {
		return 0, ""
	}
	if c.Mode == "revision" {
		n, _ := strconv.ParseInt(c.Retention, 10, 64)
		if cur-n <= 0 {
			return 0, ""
		}
		if n == 0 {
			return cur, "to the revision observed at plan time"
		}
		return cur - n, fmt.Sprintf("to the revision observed at plan time minus the %d revisions compaction.retention keeps", n)
	}
	d, _ := time.ParseDuration(c.Retention)
	switch {
	case d == 0:
		return cur, "to the revision observed at plan time; auto compaction is off"
	case forced:
		return cur, fmt.Sprintf("to the revision observed at plan time: which revision compaction.retention = %s keeps is not known, and the alarm needs the space", d)
	}
	return 0, ""
}

// statusErrors are the errors a member's status reports, without the
// raised alarms etcd repeats there ("memberID:… alarm:NOSPACE"): the
// maintenance phase plans their recovery or refuses them.
func statusErrors(st *state.EndpointStatus) []string {
	if st == nil {
		return nil
	}
	var out []string
	for _, e := range st.Errors {
		if !strings.Contains(e, "alarm:") {
			out = append(out, e)
		}
	}
	return out
}

// alarmMember names the member that raised an alarm: its name, or its ID
// in hex.
func (cp *clusterPlanner) alarmMember(id uint64) string {
	if n := cp.alarmName(id); n != "" {
		return n
	}
	return fmt.Sprintf("%x", id)
}

func (cp *clusterPlanner) alarmName(id uint64) string {
	for _, lm := range cp.oc.Members {
		if lm.ID == id {
			return lm.Name
		}
	}
	return ""
}

// FormatSize renders a byte count for people: "512 MiB", "1.5 GiB",
// "812 KiB", "100 B".
func FormatSize(n int64) string {
	units := []struct {
		s string
		v int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if n >= u.v {
			s := strconv.FormatFloat(float64(n)/float64(u.v), 'f', 1, 64)
			return strings.TrimSuffix(s, ".0") + " " + u.s
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}
