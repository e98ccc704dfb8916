package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Options tunes Make.
type Options struct {
	// AllowEven permits ending with an even number of voters in every
	// cluster (the --allow-even flag); a cluster's allow_even does the
	// same for that cluster.
	AllowEven bool
	// Meta is copied into the plan. Its ConfigHash and ConfigDir default
	// to the configuration's.
	Meta Meta
	// Tool is the local etcdform binary that backup jobs run (apply
	// installs it on the job's hosts); zero: the binary is not managed.
	Tool Tool
}

// QuotaMarginMin and QuotaMarginPercent define the headroom a quota must
// keep above the largest member's current DB size: the larger of 64 MiB and
// 10% of that size. etcd raises a cluster-wide NOSPACE alarm on the first
// write once the DB reaches the quota, so a smaller quota is refused.
const (
	QuotaMarginMin     = 64 << 20
	QuotaMarginPercent = 10
)

// Make computes the plan that brings every cluster of cfg from the observed
// state obs to the desired one. It is pure: no network, no clock (the time
// comes in opts.Meta).
//
// Per cluster, steps come in this order:
//
//  1. Snapshot, when any later step is risky.
//  2. Recovery of members that are down (service stopped, or endpoint not
//     answering): their config is written if it differs, then they are
//     started (or restarted when the service manager says running). Their
//     hosts must be reachable; otherwise the plan is refused.
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
	if obs == nil {
		obs = &state.Observed{}
	}
	p.Fingerprint = state.FingerprintOf(obs)
	for _, c := range cfg.Clusters {
		p.Clusters = append(p.Clusters, c.Name)
		cp := newClusterPlanner(c, obs.Clusters[c.Name], opts)
		cp.plan()
		cp.backupJobs()
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
	}
	return p
}

// member joins one desired and/or live member with its host facts.
type member struct {
	name    string // desired or live name; "" for an unnamed live member
	desired *schema.Member
	live    *state.Member
	host    *state.Host

	down      bool // live, but its endpoint does not answer or its service is stopped
	hostDown  bool // its host is known and unreachable, or unknown
	leader    bool
	unhealthy bool // up but its status reports errors
}

// label names a member in messages.
func (m *member) label() string {
	if m.name != "" {
		return m.name
	}
	if m.live != nil {
		return fmt.Sprintf("%x (unstarted)", m.live.ID)
	}
	return "?"
}

func (m *member) id() uint64 {
	if m.live == nil {
		return 0
	}
	return m.live.ID
}

func (m *member) peerURL() string {
	if m.desired != nil {
		return m.desired.PeerURL
	}
	if m.live != nil && len(m.live.PeerURLs) > 0 {
		return m.live.PeerURLs[0]
	}
	return ""
}

type clusterPlanner struct {
	c      *schema.Cluster
	oc     *state.Cluster
	opts   Options
	budget int

	kept    []*member // desired and live
	added   []*member // desired, not live
	removed []*member // live, not desired

	// The simulated voter set: key -> up.
	voters map[*member]bool

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

func (cp *clusterPlanner) plan() {
	c, oc := cp.c, cp.oc
	if oc == nil {
		cp.refuse("", 0, "Cluster not observed",
			"Cluster %s was not observed, so nothing can be planned for it. Bootstrapping a new cluster is not supported yet; check that its members are listed and reachable, and plan again.", c.Name)
		return
	}
	if !oc.Reachable {
		cp.refuse("", 0, "Cluster not reachable",
			"No endpoint of cluster %s answered the etcd client (%s). Check the client URLs, TLS settings and network, and plan again.", c.Name, orNone(oc.Error))
		return
	}
	if !cp.match() {
		return
	}
	cp.checks()
	cp.checkServices()

	// Rendered config files and their diffs, for kept members.
	type diff struct {
		file    []byte
		changes []Change
		dropped []string
	}
	diffs := map[*member]*diff{}
	for _, m := range cp.kept {
		if m.hostDown {
			continue
		}
		file, changes, dropped, err := configDiff(c, m.desired, m.host)
		if err != nil {
			cp.refuseRender(m.name, err)
			continue
		}
		if len(changes) > 0 {
			cp.refuseDataDirMove(m)
			diffs[m] = &diff{file: file, changes: changes, dropped: dropped}
			if len(dropped) > 0 {
				cp.warn(m.name, "Unmanaged config keys dropped",
					"The config file of %s holds keys etcdform does not manage (%s). The planned write replaces the whole file and drops them; add their settings to the configuration if etcdform should manage them, or remove them by hand first.", m.name, strings.Join(dropped, ", "))
			}
		} else if m.host != nil && len(m.host.ConfigUnknown) > 0 {
			cp.warn(m.name, "Unmanaged config keys",
				"The config file of %s holds keys etcdform does not manage (%s). They are left alone, but any future write of the file drops them.", m.name, strings.Join(m.host.ConfigUnknown, ", "))
		}
	}

	// Members running with an older config than their file holds: the
	// file was written but never loaded. Their restart joins the rolling
	// change (a member whose file differs is restarted anyway).
	pending := map[*member]Change{}
	for _, m := range cp.kept {
		if diffs[m] == nil && !m.down && !m.hostDown && m.host.RestartPending() {
			pending[m] = runningConfigChange(m.host)
		}
	}

	// Initial simulated state: every live voter, up unless down.
	for _, m := range append(append([]*member{}, cp.kept...), cp.removed...) {
		if !m.live.IsLearner {
			cp.voters[m] = !m.down
		}
	}

	var body []Step
	var bodyRefusals []func(base int)
	// emit appends a step; check says whether the step takes a member
	// down or changes membership, and so must keep the budget.
	emit := func(s Step, check bool) {
		body = append(body, s)
		idx := len(body)
		if check && s.Tolerated < cp.budget {
			bodyRefusals = append(bodyRefusals, func(base int) { cp.refuseBudget(base+idx, s) })
		}
	}

	// TLS uploads; a down member gets its files before it is started.
	tw := cp.tlsPlan()

	// 2. Recovery of down members.
	for _, m := range cp.kept {
		if !m.down || m.live.IsLearner {
			continue
		}
		state := "stopped"
		if m.host != nil && m.host.ServiceState != "" {
			state = m.host.ServiceState
		}
		cp.warn(m.name, "Member down", "Member %s of cluster %s is down (service %s, endpoint: %s). It is handled before any other change.", m.name, c.Name, state, orNone(m.live.StatusError))
		if m.hostDown {
			cp.refuse(m.name, 0, "Member down and host unreachable",
				"Member %s is down and its host cannot be reached over SSH (%s), so it can be neither started nor reconfigured, and every later step runs with one member less. Restore access to the host and plan again, or remove %s from the configuration to replace it.", m.name, hostError(m.host), m.name)
			continue
		}
		if w := tw[m]; w != nil {
			v, a := cp.counts()
			for _, s := range w.uploads {
				s.Voters, s.Tolerated = v, a-quorum(v)
				emit(s, false)
			}
			delete(tw, m) // the start (or restart) below loads every file
		}
		if d := diffs[m]; d != nil {
			v, a := cp.counts()
			emit(Step{Action: WriteConfig, Cluster: c.Name, Member: m.name, MemberID: m.id(), Reason: writeReason(m, d.dropped, true), Changes: d.changes, Config: d.file, ConfigObserved: observedConfig(m.host), Voters: v, Tolerated: a - quorum(v)}, false)
			delete(diffs, m)
		}
		v, a := cp.counts()
		act, reason := StartMember, "The member is down: start its service"
		changes := []Change{{Attr: "service", Before: state, After: "running"}}
		if state == "running" {
			act, reason = Restart, "The service runs but the endpoint does not answer: restart it"
			changes = nil
		}
		emit(Step{Action: act, Cluster: c.Name, Member: m.name, MemberID: m.id(), Reason: reason, Changes: changes, Voters: v, Tolerated: a - quorum(v)}, false)
		cp.voters[m] = true
		m.down = false
	}

	// 3a. Dead members and stale learners leave first.
	for _, m := range cp.removed {
		if m.live.IsLearner || m.down {
			s := cp.removeStep(m)
			emit(s, true)
		}
	}
	var promotable []*member
	for _, m := range cp.kept {
		if !m.live.IsLearner {
			continue
		}
		if m.down || m.hostDown {
			cp.warn(m.name, "Learner not caught up", "Member %s is a learner that is not running (left by an interrupted apply). It is removed and added again.", m.label())
			emit(cp.removeStep(m), true)
			delete(diffs, m) // the AddLearner writes a fresh config
			cp.added = append([]*member{{name: m.name, desired: m.desired, host: m.host, hostDown: m.hostDown}}, cp.added...)
			continue
		}
		promotable = append(promotable, m)
	}
	// 3b. A healthy learner left by an earlier apply is promoted before
	// anything is added, so that there is never more than one learner.
	for _, m := range promotable {
		cp.warn(m.name, "Learner found", "Member %s is a learner, probably left by an interrupted apply. It is promoted before any other member is added, since etcd allows one learner at a time.", m.name)
		emit(cp.promoteStep(m, "Promote the learner left by an earlier apply"), true)
		delete(diffs, m) // a learner's config is rewritten below if needed
		if file, changes, dropped, err := configDiff(c, m.desired, m.host); err != nil {
			cp.refuseRender(m.name, err)
		} else if len(changes) > 0 {
			diffs[m] = &diff{file: file, changes: changes, dropped: dropped}
		}
	}
	// 3c. Additions, one learner at a time.
	for _, m := range cp.added {
		if m.hostDown {
			cp.refuse(m.name, 0, "New member's host unreachable",
				"Member %s is to be added, but its host %s cannot be reached over SSH (%s). Restore access to the host and plan again.", m.name, m.desired.Host, hostError(m.host))
			continue
		}
		if m.host != nil && !m.host.DataDirEmpty && m.host.DataDirBytes > 0 {
			cp.refuse(m.name, 0, "New member's data dir not empty",
				"Member %s is to be added, but its data dir %s on %s is not empty (%d bytes). A new member must start empty; move the directory aside on the host and plan again.", m.name, c.Service.DataDir, m.desired.Host, m.host.DataDirBytes)
		}
		if w := tw[m]; w != nil {
			v, a := cp.counts()
			for _, s := range w.uploads {
				s.Voters, s.Tolerated = v, a-quorum(v)
				emit(s, false)
			}
			delete(tw, m) // the new member starts with its files in place
		}
		tmpl, err := etcdconf.Marshal(etcdconf.Render(c, m.desired, etcdconf.Bootstrap{State: "existing"}))
		if err != nil {
			cp.refuseRender(m.name, err)
		}
		v, a := cp.counts()
		emit(Step{Action: AddLearner, Cluster: c.Name, Member: m.name, PeerURL: m.desired.PeerURL,
			Reason:  "New member: add it as a learner, write its config, start it and wait until it has caught up",
			Changes: []Change{{Attr: "peer-url", After: m.desired.PeerURL}},
			Config:  tmpl, Voters: v, Tolerated: a - quorum(v)}, true)
		emit(cp.promoteStep(m, "Promote the new member to a voter once it has caught up"), true)
	}
	// 3d. Live members leave, followers first and the leader last.
	var live []*member
	for _, m := range cp.removed {
		if !m.live.IsLearner && !m.down {
			live = append(live, m)
		}
	}
	sort.SliceStable(live, func(i, j int) bool { return !live[i].leader && live[j].leader })
	for _, m := range live {
		emit(cp.removeStep(m), true)
	}

	// 4. Rolling config change, with each member's TLS uploads first.
	var roll []*member
	for m := range diffs {
		roll = append(roll, m)
	}
	for m := range tw {
		if diffs[m] == nil && m.live != nil {
			roll = append(roll, m)
		}
	}
	for m := range pending {
		if tw[m] == nil {
			roll = append(roll, m)
		}
	}
	sort.Slice(roll, func(i, j int) bool {
		ri, rj := rollRank(roll[i]), rollRank(roll[j])
		if ri != rj {
			return ri < rj
		}
		return roll[i].name < roll[j].name
	})
	for _, m := range roll {
		d := diffs[m]
		v, a := cp.counts()
		var changes []Change
		reason := "Restart so that the new config takes effect"
		if w := tw[m]; w != nil {
			for _, s := range w.uploads {
				s.Voters, s.Tolerated = v, a-quorum(v)
				emit(s, false)
			}
			if _, p := pending[m]; len(w.restart) == 0 && d == nil && !p {
				continue
			}
			changes = append(changes, w.restart...)
			if d == nil {
				reason = "Restart so that etcd loads the new CA bundle (it reads trusted-ca-file only at start)"
			}
		}
		if d != nil {
			emit(Step{Action: WriteConfig, Cluster: c.Name, Member: m.name, MemberID: m.id(), Reason: writeReason(m, d.dropped, false), Changes: d.changes, Config: d.file, ConfigObserved: observedConfig(m.host), Leader: m.leader, Voters: v, Tolerated: a - quorum(v)}, false)
			changes = append(append([]Change{}, d.changes...), changes...)
		}
		if ch, ok := pending[m]; ok {
			if len(changes) == 0 {
				reason = "The running process started before its config file was last written (an apply stopped before this restart, a failed restart, or a hand edit): restart so that the file takes effect"
			}
			changes = append(changes, ch)
		}
		if m.leader {
			reason += "; the member leads, so leadership moves to a follower first"
		} else if m.unhealthy {
			reason += "; the member reports errors, so it goes first"
		}
		a2 := a
		if !m.live.IsLearner {
			a2--
		}
		emit(Step{Action: Restart, Cluster: c.Name, Member: m.name, MemberID: m.id(), Reason: reason, Changes: changes, Leader: m.leader, Voters: v, Tolerated: a2 - quorum(v)}, !m.live.IsLearner)
	}

	// 1. Snapshot first when anything is risky.
	risky := false
	for _, s := range body {
		risky = risky || s.Action.IsRisky()
	}
	if risky {
		v, a := cp.initialCounts()
		cp.steps = append(cp.steps, Step{Action: Snapshot, Cluster: c.Name, Reason: "Take and verify a snapshot before the first risky step", Voters: v, Tolerated: a - quorum(v)})
	}
	base := len(cp.steps)
	cp.steps = append(cp.steps, body...)
	for _, f := range bodyRefusals {
		f(base)
	}
	cp.warnNarrowest()
	cp.checkEven()
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

// refuseDataDirMove refuses a new data_dir for a member whose config file
// names another one: written and restarted, etcd would start on the empty
// new directory, fail to rejoin, and crash-loop. data_dir is the whole
// cluster's, so each member is moved by hand, one at a time.
func (cp *clusterPlanner) refuseDataDirMove(m *member) {
	h := m.host
	if h == nil || h.Config == nil || h.Config.DataDir == "" || h.Config.DataDir == cp.c.Service.DataDir {
		return
	}
	old, dir, file := h.Config.DataDir, cp.c.Service.DataDir, cp.c.Service.ConfigFile
	cp.refuse(m.name, 0, "Data dir change not supported",
		"Member %s runs with data dir %s, and the configuration wants %s. Writing the new path and restarting would start etcd on an empty directory, where it cannot rejoin the cluster and keeps crashing. Move the members by hand, one at a time, waiting for each to be healthy: on %s stop the service, move %s/member to %s/member, set data-dir: %s in %s, and start the service. Plan again once every member runs from %s (the plan is then empty).",
		m.name, old, dir, m.desired.Host, old, dir, dir, file, dir)
}

// runningConfigChange says why a member's process must load its file.
func runningConfigChange(h *state.Host) Change {
	return Change{Attr: "running-config",
		Before: "process started " + h.ProcessStart.UTC().Format(time.RFC3339),
		After:  "config file of " + h.ConfigModTime.UTC().Format(time.RFC3339)}
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

func (cp *clusterPlanner) removeStep(m *member) Step {
	v, a := cp.counts()
	s := Step{Action: RemoveMember, Cluster: cp.c.Name, Member: m.name, MemberID: m.id(), PeerURL: m.peerURL(),
		Changes: []Change{{Attr: "peer-url", Before: m.peerURL()}}, Leader: m.leader, HostDown: m.hostDown}
	switch {
	case m.live.IsLearner:
		s.Reason = "Remove the learner (learners do not vote, so quorum is unchanged)"
		s.Voters, s.Tolerated = v, a-quorum(v)
	case m.down:
		s.Reason = "The member is down and not in the configuration: remove it before any member is added"
		before := a - quorum(v)
		after := a - quorum(v-1)
		s.Voters, s.Tolerated = v-1, min(before, after)
		delete(cp.voters, m)
	default:
		s.Reason = "The member is not in the configuration: remove it from the member list"
		if m.leader {
			s.Reason = "The member is not in the configuration and leads: leadership moves to another member first, and it is removed from the member list"
		}
		before := a - quorum(v)
		after := (a - 1) - quorum(v-1)
		s.Voters, s.Tolerated = v-1, min(before, after)
		delete(cp.voters, m)
	}
	switch {
	case !m.hostDown:
		s.Reason += "; then its service is stopped and disabled, and its data dir's member/ is moved aside (never deleted)"
	case m.host == nil:
		s.Reason += "; its host is not known (its peer URL names none), so only the member list changes: stop and disable its etcd and move its data dir's member/ aside by hand, or it keeps trying to rejoin"
	default:
		s.Reason += fmt.Sprintf("; its host %s cannot be reached over SSH (%s), so only the member list changes: before the host runs again, disable its etcd service and move %s/member aside by hand, or it will try to rejoin", m.host.Address, orNone(m.host.Error), cp.c.Service.DataDir)
	}
	return s
}

func (cp *clusterPlanner) promoteStep(m *member, reason string) Step {
	v, a := cp.counts()
	before := a - quorum(v)
	after := (a + 1) - quorum(v+1)
	cp.voters[m] = true
	return Step{Action: Promote, Cluster: cp.c.Name, Member: m.name, MemberID: m.id(), PeerURL: m.peerURL(), Reason: reason,
		Changes: []Change{{Attr: "learner", Before: "true", After: "false"}}, Voters: v + 1, Tolerated: min(before, after)}
}

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

// match pairs desired and live members and classifies them. It returns
// false when the cluster cannot be planned.
func (cp *clusterPlanner) match() bool {
	c, oc := cp.c, cp.oc
	used := map[int]bool{}
	ok := true
	for _, d := range c.Members {
		m := &member{name: d.Name, desired: d, host: oc.Hosts[d.Name]}
		idx := -1
		for i := range oc.Members {
			if !used[i] && oc.Members[i].Name == d.Name {
				idx = i
				break
			}
		}
		if idx < 0 {
			for i := range oc.Members {
				if !used[i] && oc.Members[i].Name == "" && contains(oc.Members[i].PeerURLs, d.PeerURL) {
					idx = i
					break
				}
			}
		}
		m.hostDown = m.host == nil || !m.host.Reachable
		if idx < 0 {
			cp.added = append(cp.added, m)
			continue
		}
		used[idx] = true
		m.live = &oc.Members[idx]
		if !contains(m.live.PeerURLs, d.PeerURL) && schemeChange(m.live.PeerURLs, d.PeerURL) {
			cp.refusePlaintextToTLS(d.Name, d.PeerURL, m.live.PeerURLs)
			ok = false
		} else if !contains(m.live.PeerURLs, d.PeerURL) {
			cp.refuse(d.Name, 0, "Peer URL change not supported",
				"Member %s has peer URL %s in the configuration but %s in the cluster. Changing a member's peer URL in place is not supported; give the member a new name so that it is replaced (added, then the old one removed).", d.Name, d.PeerURL, strings.Join(m.live.PeerURLs, ","))
			ok = false
		}
		cp.classify(m)
		cp.kept = append(cp.kept, m)
	}
	for i := range oc.Members {
		if used[i] {
			continue
		}
		lm := &oc.Members[i]
		m := &member{name: lm.Name, live: lm, host: oc.Hosts[lm.Name]}
		if lm.Name == "" {
			m.host = nil
		}
		m.hostDown = m.host == nil || !m.host.Reachable
		cp.classify(m)
		cp.removed = append(cp.removed, m)
	}
	sort.SliceStable(cp.removed, func(i, j int) bool { return cp.removed[i].name < cp.removed[j].name })
	return ok
}

func (cp *clusterPlanner) classify(m *member) {
	m.down = m.live.Down() || (m.host != nil && m.host.Reachable && m.host.ServiceState == "stopped")
	m.leader = cp.oc.LeaderID != 0 && m.live.ID == cp.oc.LeaderID
	m.unhealthy = !m.down && len(m.live.Status.Errors) > 0
	if m.unhealthy {
		cp.warn(m.name, "Member reports errors", "Member %s reports: %s. It is restarted first in a rolling change.", m.label(), strings.Join(m.live.Status.Errors, "; "))
	}
	if m.host != nil && m.host.Reachable && m.desired != nil && cp.c.EtcdVersion != "" && m.host.BinaryVersion != "" && m.host.BinaryVersion != cp.c.EtcdVersion {
		cp.warn(m.name, "Binary version differs", "Member %s runs etcd %s on its host, the configuration wants %s. Upgrades are not planned yet; upgrade the binary by hand, one member at a time.", m.name, m.host.BinaryVersion, cp.c.EtcdVersion)
	}
	if m.desired != nil && !m.down && m.hostDown {
		cp.refuse(m.name, 0, "Host unreachable",
			"The host of member %s cannot be reached over SSH (%s), so its config file cannot be compared and the plan would be incomplete. Restore SSH access and plan again.", m.name, hostError(m.host))
	}
}

// checks reports alarms and refuses an unsafe quota.
func (cp *clusterPlanner) checks() {
	c, oc := cp.c, cp.oc
	for _, al := range oc.Alarms {
		who := fmt.Sprintf("%x", al.MemberID)
		for _, lm := range oc.Members {
			if lm.ID == al.MemberID && lm.Name != "" {
				who = lm.Name
			}
		}
		cp.warn(who, "Alarm raised", "Alarm %s is raised on member %s. Clear its cause (for NOSPACE: compact, defragment, raise the quota) and disarm it; apply's health gate fails while an alarm is raised.", al.Type, who)
	}
	if oc.LeaderID == 0 {
		cp.warn("", "No leader observed", "No member of cluster %s reported a leader. Apply's health gate requires exactly one leader.", c.Name)
	}
	var largest int64
	var who string
	for _, lm := range oc.Members {
		if lm.Status != nil && lm.Status.DBSize > largest {
			largest, who = lm.Status.DBSize, lm.Name
		}
	}
	margin := max(int64(QuotaMarginMin), largest*QuotaMarginPercent/100)
	if largest == 0 || c.Storage.QuotaBackendBytes > largest+margin {
		return
	}
	changing := false
	for _, m := range c.Members {
		if h := oc.Hosts[m.Name]; h == nil || h.Config == nil || h.Config.QuotaBackendBytes != c.Storage.QuotaBackendBytes {
			changing = true
		}
	}
	if changing {
		cp.refuse("", 0, "Quota too small for the data",
			"quota_backend_bytes = %d is at or below the largest member's DB size (%s: %d bytes) plus a margin of %d bytes; etcd would raise a cluster-wide NOSPACE alarm on the next write. Compact and defragment first, or choose a quota above %d.", c.Storage.QuotaBackendBytes, who, largest, margin, largest+margin)
		return
	}
	cp.warn("", "DB close to quota", "The largest member's DB (%s: %d bytes) is within %d bytes of quota_backend_bytes = %d. Compact and defragment, or raise the quota.", who, largest, margin, c.Storage.QuotaBackendBytes)
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

func writeReason(m *member, dropped []string, down bool) string {
	r := "The config file differs from the configuration: write it (the restart follows)"
	if down {
		r = "The config file differs from the configuration: write it before the member is started"
	}
	if m.host != nil && !m.host.ConfigExists {
		r = "The config file is missing: write it"
	}
	if len(dropped) > 0 {
		r += "; this DROPS unmanaged keys " + strings.Join(dropped, ", ")
	}
	return r
}

// observedConfig is the config file h held, nil when absent or unknown.
func observedConfig(h *state.Host) []byte {
	if h == nil || !h.ConfigExists {
		return nil
	}
	return h.ConfigContent
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
