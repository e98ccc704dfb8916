package plan

import (
	"fmt"
	"slices"
	"sort"
)

// rollingWork carries out the work the earlier phases left in the work
// list, one member at a time in rollRank order: the member's uploads, then,
// when anything needs a restart, WriteConfig (when the file differs) and
// one Restart whose changes merge the config's, the CA bundles' and a
// pending restart's. Uploads that take effect on their own (keys and
// certificates) get no restart.
func (cp *clusterPlanner) rollingWork() {
	var roll []*memberWork
	for _, w := range cp.work.order {
		if !w.done && w.m.live != nil && (len(w.uploads) > 0 || w.needsRestart()) {
			roll = append(roll, w)
		}
	}
	sort.SliceStable(roll, func(i, j int) bool {
		ri, rj := rollRank(roll[i].m), rollRank(roll[j].m)
		if ri != rj {
			return ri < rj
		}
		return roll[i].m.name < roll[j].m.name
	})
	// An upgrade checks every member's v2 store first when its rule asks
	// (with the etcdutl the hosts have before the install), then installs
	// the new binary on every host (it takes effect at each member's
	// restart, in the rolling order).
	for _, w := range roll {
		if w.check != nil {
			s := *w.check
			s.Voters, s.Tolerated = cp.tolerance()
			cp.emit(s, false)
		}
	}
	for _, w := range roll {
		if w.binary != nil {
			s := *w.binary
			s.Voters, s.Tolerated = cp.tolerance()
			cp.emit(s, false)
		}
	}
	if cp.downgrade != nil {
		cp.downgradeSteps()
	}
	changed := false
	for _, w := range roll {
		cp.emitUploads(w)
		if !w.needsRestart() {
			continue
		}
		if w.config != nil {
			cp.emit(cp.writeConfigStep(w, false), false)
		}
		cp.emit(cp.restartStep(w), !w.m.live.IsLearner)
		changed = changed || w.binary != nil
	}
	if changed {
		cp.waitClusterVersion()
	}
}

// downgradeSteps emits etcd's requests before a minor downgrade's first
// member is replaced: downgrade-validate, then downgrade-enable (which
// waits until every member reports the target's storage version).
func (cp *clusterPlanner) downgradeSteps() {
	r, to := cp.downgrade, cp.versionTo
	v, t := cp.tolerance()
	cv := Change{Attr: "cluster-version", Before: orParen(cp.oc.ClusterVersion), After: r.To + ".0"}
	cp.emit(Step{Action: DowngradeValidate, Cluster: cp.c.Name, Version: to, Voters: v, Tolerated: t,
		Reason:  fmt.Sprintf("Ask etcd whether the cluster can be downgraded to %s (etcdctl downgrade validate %s); it changes nothing. %s", r.To, r.To, r.Source),
		Changes: []Change{cv}}, false)
	cp.emit(Step{Action: DowngradeEnable, Cluster: cp.c.Name, Version: to, Voters: v, Tolerated: t,
		Reason:  fmt.Sprintf("Enable the downgrade to %s (etcdctl downgrade enable %s): the cluster runs the %s protocol from here, and every member migrates its storage; wait until each reports storage version %s.0 before the first binary is replaced. If a later step fails while a member still runs %s, apply sends downgrade cancel", r.To, r.To, r.To, r.To, r.From),
		Changes: []Change{cv, {Attr: "storage-version", Before: r.From + ".0", After: r.To + ".0"}}}, false)
}

// waitClusterVersion emits the wait after a version change's last member:
// the cluster version reaches the target's minor, every member reports the
// target, and the member list is checked against the plan's voters.
func (cp *clusterPlanner) waitClusterVersion() {
	to, _ := parseVersion(cp.versionTo)
	v, t := cp.tolerance()
	cp.emit(Step{Action: WaitClusterVersion, Cluster: cp.c.Name, Version: cp.versionTo, Voters: v, Tolerated: t,
		Reason:  fmt.Sprintf("Wait until the cluster version is %s.0 and every member reports %s, then check the member list: %d voters, no learner", to.series(), cp.versionTo, v),
		Changes: []Change{{Attr: "cluster-version", Before: orParen(cp.oc.ClusterVersion), After: to.series() + ".0"}}}, false)
}

// orParen is s, or "(unknown)" for "".
func orParen(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// rollRank orders a rolling change: members reporting errors, followers,
// then the leader.
func rollRank(m *member) int {
	switch {
	case m.leader:
		return 2
	case m.unhealthy:
		return 0
	}
	return 1
}

// snapshotFirst sets the cluster's steps: the body, with a Snapshot, when
// any step of it is risky, before its first step that is not maintenance.
// The leading maintenance steps (a NOSPACE recovery, a routine defrag)
// touch no live key, so they go first: a recovery is not held up by a
// snapshot of the full database, which it then takes smaller. A snapshot
// taken while NOSPACE is still raised (a quota raise before the disarm)
// comes from a follower (apply). cp.checked is renumbered to cp.steps.
func (cp *clusterPlanner) snapshotFirst() {
	base := len(cp.steps)
	risky := slices.ContainsFunc(cp.body, func(s Step) bool { return s.Action.IsRisky() })
	at := slices.IndexFunc(cp.body, func(s Step) bool { return !s.Action.IsMaintenance() })
	if !risky || at < 0 {
		at = len(cp.body) + 1 // no snapshot
		cp.steps = append(cp.steps, cp.body...)
	} else {
		v, a := cp.initialCounts()
		cp.steps = append(cp.steps, cp.body[:at]...)
		cp.steps = append(cp.steps, Step{Action: Snapshot, Cluster: cp.c.Name, Reason: "Take and verify a snapshot before the first risky step", Voters: v, Tolerated: a - quorum(v)})
		cp.steps = append(cp.steps, cp.body[at:]...)
	}
	for n, i := range cp.checked {
		cp.checked[n] = base + i
		if i >= at {
			cp.checked[n]++
		}
	}
}

// faultToleranceCheck runs after snapshotFirst. It refuses every checked
// step of the body that tolerates fewer failures than the budget, warns
// when a membership change passes through zero tolerance (warnNarrowest),
// and refuses ending with an even number of voters (checkEven).
func (cp *clusterPlanner) faultToleranceCheck() {
	for _, i := range cp.checked {
		if s := cp.steps[i]; s.Tolerated < cp.budget {
			cp.refuseBudget(i+1, s)
		}
	}
	cp.warnNarrowest()
	cp.checkEven()
}

// counts returns the simulated number of voters and how many are up.
func (cp *clusterPlanner) counts() (voters, available int) {
	for _, up := range cp.voters {
		voters++
		if up {
			available++
		}
	}
	return voters, available
}

// initialCounts is counts before any step: as observed.
func (cp *clusterPlanner) initialCounts() (voters, available int) {
	for _, m := range append(append([]*member{}, cp.kept...), cp.removed...) {
		if m.live != nil && !m.live.IsLearner {
			voters++
			if !m.live.Down() {
				available++
			}
		}
	}
	return voters, available
}

func quorum(voters int) int { return voters/2 + 1 }

func (cp *clusterPlanner) refuseBudget(idx int, s Step) {
	v, a := s.Voters, s.Tolerated+quorum(s.Voters)
	what := s.Action.String()
	if s.Member != "" {
		what += " " + s.Member
	}
	if s.Tolerated < 0 {
		cp.refuse(s.Member, idx, "Step would lose quorum",
			"The step %s would leave %d of %d voters available, below the quorum of %d, so the cluster would stop serving. Start the members that are down first, or add members before this change.", what, a, v, quorum(v))
		return
	}
	cp.refuse(s.Member, idx, "Step below fault tolerance budget",
		"The step %s runs with %d of %d voters available (quorum %d), tolerating %d failure(s), below fault_tolerance = %d. Lower fault_tolerance, start the members that are down, or add members first in a separate apply.", what, a, v, quorum(v), s.Tolerated, cp.budget)
}

// warnNarrowest warns when, with fault_tolerance not set (a budget of 0),
// a membership change passes through a point that tolerates no failure
// while the cluster tolerates at least one today: shrinking 3 to 1 runs on
// 2 voters, where one more failure stops the cluster. It names the first
// such step. Restarts are not
// counted (each takes one member down for seconds, and is what a rolling
// change of 3 members always does). Setting fault_tolerance (0 to accept,
// or more to refuse) silences it.
func (cp *clusterPlanner) warnNarrowest() {
	v0, a0 := cp.initialCounts()
	if cp.c.FaultTolerance >= 0 || a0-quorum(v0) < 1 {
		return
	}
	narrow := -1
	for i, s := range cp.steps {
		if s.Action.Info().Tolerance != ToleranceMembership {
			continue
		}
		if s.Tolerated == 0 {
			narrow = i
			break
		}
	}
	if narrow < 0 {
		return
	}
	s := cp.steps[narrow]
	final := len(cp.c.Members)
	cp.warnings = append(cp.warnings, Warning{Cluster: cp.c.Name, Member: s.Member, Step: narrow + 1, Summary: "Fault tolerance drops to zero",
		Detail: fmt.Sprintf("Cluster %s tolerates %d failure(s) today, but step %d (%s %s) runs with %d voters tolerating 0 failures: one more member failing then stops the cluster. The configuration leaves %d voters, which tolerate %d. fault_tolerance is not set, so this is allowed; set fault_tolerance = 0 in the cluster block to accept it, or keep more members (a higher fault_tolerance refuses such a plan).",
			cp.c.Name, a0-quorum(v0), narrow+1, s.Action, s.Member, s.Voters, final, max(0, (final-1)/2))})
}

// checkEven refuses ending with an even voter count unless allowed. A
// cluster that already has that count and keeps it is not refused.
func (cp *clusterPlanner) checkEven() {
	final := len(cp.c.Members)
	if final%2 == 1 || cp.c.AllowEven || cp.opts.AllowEven {
		return
	}
	if final == cp.oc.Voters() && len(cp.added) == 0 && len(cp.removed) == 0 {
		return
	}
	cp.refuse("", 0, "Even number of voters",
		"The plan leaves cluster %s with %d voters. An even count tolerates no more failures than one member less (%d voters need a quorum of %d) and %s. Add or remove one more member, or set allow_even = true in the cluster block (or pass --allow-even).", cp.c.Name, final, final, quorum(final), evenNote(final))
}

func evenNote(n int) string {
	if n == 2 {
		return "2 voters tolerate no failure at all"
	}
	return "raise the chance of a split vote"
}
