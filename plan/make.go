package plan

import (
	"fmt"
	"time"

	"github.com/etcdform/etcdform/plan/model"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// The planner of one cluster (clusterPlanner.plan) runs these phases in
// order. Each reads what earlier phases left and appends steps, messages
// or work; none removes what another phase recorded.
//
//   - observable: refuses a cluster that was not observed; unreachable
//     (bootstrap.go) plans a cluster no endpoint answered: the bootstrap of
//     a new cluster on bare hosts, or a refusal, and nothing else.
//   - observeMembership (membership.go): pairs desired and live members
//     and sets up the simulated voter set.
//   - dataDirs (datadir.go): what each member's data dir holds against the
//     member list: a down member with no WAL is rebuilt (replaced under the
//     same name), another member's or cluster's data is refused.
//   - lostQuorum and recoverQuorum (recover.go): a cluster that lost its
//     quorum for good is refused naming its survivor, or with
//     Options.Recover gets only the recovery from it (and the snapshot
//     before it).
//   - checks (checks.go) and checkServices (service.go): alarms, quota,
//     missing services.
//   - maintenance (maintenance.go): a CORRUPT alarm's refusal (and no
//     step at all); NOSPACE's recovery (compact, defrag each member,
//     disarm, or the disarm after a quota raise) before any other step;
//     or the routine defrag.
//   - configWork, upgradeWork (upgrade.go), restartPendingWork
//     (memberwork.go) and tlsPlan (tls.go): fill the per-member work list:
//     a config file to write, a binary to install and restart on (an
//     upgrade, by the rules of upgrade_rules.go), a process older than its
//     file, TLS uploads and the CA bundles that need a restart.
//   - recoverDown (memberwork.go): a down member's work, then its start.
//   - removeDeadAndStale, promoteLearners, addMembers, removeLive
//     (membership.go): membership changes, one at a time; an added member's
//     uploads go before it is added; a rebuilt member is removed and added
//     again.
//   - rollingWork (order.go): the rest of the work list, one member at a
//     time, followers first and the leader last.
//   - disarmAfterWork (maintenance.go): the NOSPACE disarms, when the
//     plan raises the quota (after the restarts that raise it).
//   - snapshotFirst and faultToleranceCheck (order.go): a snapshot before
//     the first step that is not maintenance, when any step is risky;
//     budget refusals, the zero-tolerance warning and the even-voters
//     refusal.
//
// After plan, Make runs backupJobs and backupFreshness (backup.go), which
// append their steps after the cluster's other steps.

// Options tunes Make.
type Options struct {
	// AllowEven permits ending with an even number of voters in every
	// cluster (the --allow-even flag); a cluster's allow_even does the
	// same for that cluster.
	AllowEven bool
	// Recover plans the recovery of a cluster that lost its quorum
	// (`plan --recover`, recover.go) where a refusal is planned
	// otherwise. It is recorded in Meta.Recover.
	Recover bool
	// RestoreFrom plans the restore of the cluster from a backup
	// (`plan --restore-from`, restore.go): RestoreLatest or a snapshot ID
	// or object name; "" plans no restore. The plan must cover one
	// cluster. Meta.RestoreFrom records the ID of the snapshot chosen.
	RestoreFrom string
	// RestoreOverData allows the restore when data dirs hold data
	// (moved aside). Recorded in Meta.RestoreOverData.
	RestoreOverData bool
	// Meta is copied into the plan. Its ConfigHash and ConfigDir default
	// to the configuration's.
	Meta Meta
	// Tool is the local etcdform binary that backup jobs run (apply
	// installs it on the job's hosts); zero: the binary is not managed.
	Tool Tool
	// Only is the selection (`plan --only`) Make reduces the plan to
	// (Only); "" keeps it whole. The planner plans for it: a NOSPACE
	// recovery whose quota raise the selection leaves out disarms under
	// the quota the members run with, right after the defrags.
	Only string
	// Tokens are the initial-cluster-tokens of the clusters a plan
	// bootstraps, by cluster name; a cluster without one gets
	// BootstrapToken's. Apply's re-check pins the saved plan's
	// (PinTokens).
	Tokens map[string]string
}

// QuotaMarginMin and QuotaMarginPercent define the headroom a quota must
// keep above the largest member's current DB size: the larger of 64 MiB and
// 10% of that size. etcd raises a cluster-wide NOSPACE alarm on the first
// write once the DB reaches the quota, so a smaller quota is refused.
//
// QuotaWarnPercent is the share of the quota at which the largest member's
// DB size is a warning, as the production guide advises (also when within
// the margin of a quota that is not changing).
const (
	QuotaMarginMin     = model.QuotaMarginMin
	QuotaMarginPercent = model.QuotaMarginPercent
	QuotaWarnPercent   = 75
)

// Make computes the plan that brings every cluster of cfg from the observed
// state obs to the desired one. It is pure: no network, no clock (the time
// comes in opts.Meta).
//
// Per cluster, steps come in this order:
//
//  0. Maintenance (maintenance.go): NOSPACE's recovery (compact, a defrag
//     per member, the disarms unless the plan raises the quota), or the
//     routine defrag of the maintenance block. These touch no live key.
//  1. Snapshot, when any later step is risky (after the maintenance
//     steps: a snapshot is the way back from a change of membership or of
//     what members run, not from a compaction or a defragmentation, and
//     a NOSPACE recovery should not wait for one).
//  2. Recovery of members that are down (service stopped, or endpoint not
//     answering): their config is written if it differs, then they are
//     started (or restarted when the service manager says running). Their
//     hosts must be reachable; otherwise the plan is refused. A down member
//     whose data dir holds no WAL (a rebuilt host) is not started: it is
//     removed in 3a and added again under the same name in 3c, first.
//  3. Membership changes, one at a time:
//     a. removal of dead members and stale learners (remove-first: adding
//     a voter while one is dead widens the quorum without adding an
//     available member, which is the riskiest window of all);
//     b. promotion of a healthy learner left by an earlier apply;
//     c. additions, each as AddLearner then Promote (never two learners at
//     once), in configuration order;
//     d. removal of live members, followers by name and the leader last
//     (add-before-remove: a healthy replacement keeps the tolerance
//     higher; removing first would dip it, e.g. 3 members to 2 tolerates
//     0 failures, while 4 members during a replacement tolerate 1).
//  4. The rolling config change: WriteConfig then Restart per member,
//     members with errors first, then followers by name, the leader (as
//     observed) last. A member whose process started before its config
//     file was last written (state.Host.RestartPending) gets a Restart
//     alone, in the same order.
//  5. The NOSPACE disarms, when the plan raises the quota (after the
//     restarts that raise it).
//
// Every step carries the voters and the failures tolerated while it runs;
// a step that takes a member down or changes membership below the budget
// (fault_tolerance, or 0 when undeclared) is refused. Steps that take
// nothing down (snapshot, write-config, start-member) report the tolerance
// in effect but are never refused for it. With fault_tolerance not set, a
// membership change that drops to 0 tolerated failures while the cluster
// tolerates one today is warned about (warnNarrowest).
func Make(cfg *schema.Config, obs *state.Observed, opts Options) *Plan {
	p := &Plan{Meta: opts.Meta}
	if p.Meta.ConfigHash == "" {
		p.Meta.ConfigHash = cfg.Hash
	}
	if p.Meta.ConfigDir == "" {
		p.Meta.ConfigDir = cfg.Dir
	}
	p.Meta.Recover = p.Meta.Recover || opts.Recover
	opts.Recover = p.Meta.Recover
	if opts.RestoreFrom == "" {
		opts.RestoreFrom = p.Meta.RestoreFrom
	}
	p.Meta.RestoreFrom = ""
	p.Meta.RestoreOverData = p.Meta.RestoreOverData || opts.RestoreOverData
	opts.RestoreOverData = p.Meta.RestoreOverData
	if opts.RestoreFrom != "" && len(cfg.Clusters) != 1 {
		var names []string
		for _, c := range cfg.Clusters {
			names = append(names, c.Name)
		}
		p.Refusals = append(p.Refusals, Warning{Summary: "Restore needs one cluster",
			Detail: fmt.Sprintf("--restore-from restores one cluster, and this plan covers %d (%v). Select the cluster to restore with --cluster NAME.", len(names), names)})
		opts.RestoreFrom = ""
	}
	if obs == nil {
		obs = &state.Observed{}
	}
	p.Fingerprint = state.FingerprintOf(obs)
	for _, c := range cfg.Clusters {
		p.Clusters = append(p.Clusters, c.Name)
		cp := newClusterPlanner(c, obs.Clusters[c.Name], opts)
		cp.now = obs.Time
		if opts.RestoreFrom != "" {
			if cp.observable() {
				p.Meta.RestoreFrom = cp.restore()
			}
		} else {
			cp.plan()
		}
		cp.backupJobs()
		cp.authBackupCheck()
		cp.backupFreshness(obs.Time)
		base := len(p.Steps)
		for _, w := range cp.warnings {
			if w.Step > 0 {
				w.Step += base
			}
			p.Warnings = append(p.Warnings, w)
		}
		for _, w := range cp.refusals {
			if w.Step > 0 {
				w.Step += base
			}
			p.Refusals = append(p.Refusals, w)
		}
		p.Steps = append(p.Steps, cp.steps...)
		p.Risks = append(p.Risks, riskNotes(cfg.Dir, c)...)
	}
	AddTargets(cfg, p)
	Only(p, opts.Only)
	return p
}

// clusterPlanner plans one cluster. Its phases (see the list at the top of
// this file) share the members, the simulated voter set and the work list;
// the steps they emit go to body, which snapshotFirst moves to steps.
type clusterPlanner struct {
	c      *schema.Cluster
	oc     *state.Cluster
	opts   Options
	budget int
	now    time.Time // when the cluster was observed

	kept    []*member // desired and live
	added   []*member // desired, not live
	removed []*member // live, not desired

	// The simulated voter set: key -> up.
	voters map[*member]bool
	// work is the per-member work besides membership changes: uploads,
	// config writes and restarts.
	work workList

	// downgrade is the rule of the minor downgrade the plan carries out
	// (upgradeWork), nil for none; versionTo is the etcd version of a
	// version change, "" for none.
	downgrade *DowngradeRule
	versionTo string

	// disarmLater holds the NOSPACE disarms that wait for the quota raise
	// (nospaceRecovery, disarmAfterWork).
	disarmLater []Step

	// body is the cluster's steps but the snapshot, as emitted;
	// checked holds the indices in body (in steps, after snapshotFirst)
	// of the steps that must keep the
	// fault-tolerance budget.
	body    []Step
	checked []int

	steps    []Step
	warnings []Warning
	refusals []Warning
}

func newClusterPlanner(c *schema.Cluster, oc *state.Cluster, opts Options) *clusterPlanner {
	cp := &clusterPlanner{c: c, oc: oc, opts: opts, voters: map[*member]bool{}}
	if c.FaultTolerance > 0 {
		cp.budget = c.FaultTolerance
	}
	return cp
}

func (cp *clusterPlanner) warn(m, summary, format string, args ...any) {
	cp.warnings = append(cp.warnings, Warning{Cluster: cp.c.Name, Member: m, Summary: summary, Detail: fmt.Sprintf(format, args...)})
}

func (cp *clusterPlanner) refuse(m string, step int, summary, format string, args ...any) {
	cp.refusals = append(cp.refusals, Warning{Cluster: cp.c.Name, Member: m, Step: step, Summary: summary, Detail: fmt.Sprintf(format, args...)})
}

// emit appends s to the body. check says whether the step takes a member
// down or changes membership, and so must keep the budget
// (faultToleranceCheck refuses it otherwise).
func (cp *clusterPlanner) emit(s Step, check bool) {
	cp.body = append(cp.body, s)
	if check {
		cp.checked = append(cp.checked, len(cp.body)-1)
	}
}

// plan runs the phases listed at the top of this file.
func (cp *clusterPlanner) plan() {
	if !cp.observable() {
		return
	}
	if !cp.oc.Reachable {
		cp.unreachable()
		return
	}
	if !cp.observeMembership() {
		return
	}
	cp.dataDirs()
	if cp.lostQuorum() {
		cp.recoverQuorum()
		cp.snapshotFirst()
		return
	}
	cp.checks()
	cp.checkServices()
	if !cp.maintenance() {
		return
	}

	cp.configWork()
	cp.upgradeWork()
	cp.restartPendingWork()
	cp.tlsPlan()

	cp.recoverDown()
	cp.removeDeadAndStale()
	cp.promoteLearners()
	cp.addMembers()
	cp.removeLive()
	cp.rollingWork()
	cp.disarmAfterWork()
	cp.authWork()

	cp.snapshotFirst()
	cp.faultToleranceCheck()
}

// observable refuses a cluster that was not observed; it reports whether
// planning can go on.
func (cp *clusterPlanner) observable() bool {
	c, oc := cp.c, cp.oc
	if oc == nil {
		cp.refuse("", 0, "Cluster not observed",
			"Cluster %s was not observed, so nothing can be planned for it; check that its members are listed and reachable, and plan again.", c.Name)
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "no error reported"
	}
	return s
}

func hostError(h *state.Host) string {
	if h == nil {
		return "the host was not observed"
	}
	return orNone(h.Error)
}
