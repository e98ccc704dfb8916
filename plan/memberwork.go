package plan

import (
	"strings"
	"time"

	"github.com/etcdform/etcdform/state"
)

// memberWork is the work planned on one member's host besides membership
// changes. Phases append to it (configWork, restartPendingWork, tlsPlan);
// recoverDown, addMembers and rollingWork carry it out, so that everything
// one member needs ends in one write-config and at most one restart.
type memberWork struct {
	m *member
	// uploads are UploadFile steps, CA bundles first (tlsUploads).
	uploads []Step
	// caRestart holds the uploads that take effect only at a restart (CA
	// bundles: etcd reads trusted-ca-file at start).
	caRestart []Change
	// config is the config file to write; nil when the file matches.
	config *configWrite
	// pending says the process started before its config file was last
	// written (state.Host.RestartPending); nil otherwise.
	pending *Change
	// binary is the install-binary step of an upgrade (upgradeWork),
	// from is the version the member runs; the member then restarts as
	// an upgrade-member step. nil otherwise.
	binary   *Step
	from, to string
	// older: to is older than from (a downgrade; the restart is a
	// downgrade-member).
	older bool
	// check is the check-v2store step an upgrade to 3.6 runs first.
	check *Step
	// done is set once a step carried the work out: a start of a down
	// member or an addition loads every file.
	done bool
}

// configWrite is a config file to write and why.
type configWrite struct {
	file    []byte
	changes []Change
	dropped []string // unmanaged keys the write drops
}

// needsRestart reports whether the member must restart for its work to
// take effect.
func (w *memberWork) needsRestart() bool {
	return w.config != nil || len(w.caRestart) > 0 || w.pending != nil || w.binary != nil
}

// restartChanges are the changes the restart brings into effect: the
// config file's, then the CA bundles', then the pending restart's (only
// when no config is written: a written file is why the restart happens).
func (w *memberWork) restartChanges() []Change {
	var out []Change
	if w.binary != nil {
		out = append(out, Change{Attr: "version", Before: w.from, After: w.to})
	}
	if w.config != nil {
		out = append(out, w.config.changes...)
	}
	out = append(out, w.caRestart...)
	if w.config == nil && w.pending != nil {
		out = append(out, *w.pending)
	}
	return out
}

// restartReason says why the member restarts, from the first of: a config
// write, a CA bundle, a pending restart.
func (w *memberWork) restartReason() string {
	switch {
	case w.binary != nil && w.older:
		return "Swap in etcd " + w.to + " (older than " + w.from + "), staged above, restart on it and wait until the member reports it"
	case w.binary != nil:
		return "Swap in etcd " + w.to + ", staged above, restart on it and wait until the member reports it"
	case w.config != nil:
		return "Restart so that the new config takes effect"
	case len(w.caRestart) > 0:
		return "Restart so that etcd loads the new CA bundle (it reads trusted-ca-file only at start)"
	}
	return "The running process started before its config file was last written (an apply stopped before this restart, a failed restart, or a hand edit): restart so that the file takes effect"
}

// workList is the per-member work of one cluster, in the order members
// were first given work.
type workList struct {
	byMember map[*member]*memberWork
	order    []*memberWork
}

// of returns m's work, adding an empty entry when m has none yet.
func (l *workList) of(m *member) *memberWork {
	if w := l.byMember[m]; w != nil {
		return w
	}
	if l.byMember == nil {
		l.byMember = map[*member]*memberWork{}
	}
	w := &memberWork{m: m}
	l.byMember[m] = w
	l.order = append(l.order, w)
	return w
}

// take returns m's work and marks it done, for a step that carries it all
// out; nil when m has no work left.
func (l *workList) take(m *member) *memberWork {
	w := l.byMember[m]
	if w == nil || w.done {
		return nil
	}
	w.done = true
	return w
}

// handOver moves the uploads of a learner that is removed and added again
// (as again) to the new member, so that they go before its AddLearner. Its
// config write and restarts are dropped: AddLearner writes a fresh config
// and starts the member.
func (l *workList) handOver(learner, again *member) {
	w := l.take(learner)
	if w == nil || len(w.uploads) == 0 {
		return
	}
	nw := l.of(again)
	for _, s := range w.uploads {
		s.MemberID, s.Leader = again.id(), again.leader
		nw.uploads = append(nw.uploads, s)
	}
}

// configWork renders the config file of every kept member whose host is
// reachable and records a write in the work list where it differs from the
// host's. It refuses a file that cannot be rendered and a data_dir move,
// and warns about unmanaged keys (dropped by the write, or left alone).
func (cp *clusterPlanner) configWork() {
	for _, m := range cp.kept {
		if m.hostDown {
			continue
		}
		file, changes, dropped, err := configDiff(cp.c, m.desired, m.host, cp.runsVersion(m))
		if err != nil {
			cp.refuseRender(m.name, err)
			continue
		}
		if len(changes) > 0 {
			cp.refuseDataDirMove(m)
			cp.work.of(m).config = &configWrite{file: file, changes: changes, dropped: dropped}
			if len(dropped) > 0 {
				cp.warn(m.name, "Unmanaged config keys dropped",
					"The config file of %s holds keys etcdform does not manage (%s). The planned write replaces the whole file and drops them; add their settings to the configuration if etcdform should manage them, or remove them by hand first.", m.name, strings.Join(dropped, ", "))
			}
		} else if m.host != nil && len(m.host.ConfigUnknown) > 0 {
			cp.warn(m.name, "Unmanaged config keys",
				"The config file of %s holds keys etcdform does not manage (%s). They are left alone, but any future write of the file drops them.", m.name, strings.Join(m.host.ConfigUnknown, ", "))
		}
	}
}

// restartPendingWork records, for every kept member that is up, a restart
// when its process started before its config file was last written: the
// file was written but never loaded. It joins the rolling change.
func (cp *clusterPlanner) restartPendingWork() {
	for _, m := range cp.kept {
		if !m.down && !m.hostDown && m.host.RestartPending() {
			ch := runningConfigChange(m.host)
			cp.work.of(m).pending = &ch
		}
	}
}

// recoverDown starts the voters that are down, before any other change (a
// learner that is not running is removed and added again instead). Per
// member: its uploads and config write from the work list, which the start
// carries out, then StartMember, or Restart when the service manager says
// running. A rebuilt member (dataDirs) is replaced instead. It refuses a
// down member whose host is unreachable. A started
// member counts as up for the later steps.
func (cp *clusterPlanner) recoverDown() {
	for _, m := range cp.kept {
		if !m.down || m.live.IsLearner || m.rebuilt {
			continue
		}
		svc := "stopped"
		if m.host != nil && m.host.ServiceState != "" {
			svc = m.host.ServiceState
		}
		cp.warn(m.name, "Member down", "Member %s of cluster %s is down (service %s, endpoint: %s). It is handled before any other change.", m.name, cp.c.Name, svc, orNone(m.live.StatusError))
		if m.hostDown {
			cp.refuse(m.name, 0, "Member down and host unreachable",
				"Member %s is down and its host cannot be reached over SSH (%s), so it can be neither started nor reconfigured, and every later step runs with one member less. Restore access to the host and plan again, or remove %s from the configuration to replace it.", m.name, hostError(m.host), m.name)
			continue
		}
		if w := cp.work.take(m); w != nil {
			cp.emitUploads(w)
			if w.config != nil {
				cp.emit(cp.writeConfigStep(w, true), false)
			}
		}
		v, t := cp.tolerance()
		act, reason := StartMember, "The member is down: start its service"
		changes := []Change{{Attr: "service", Before: svc, After: "running"}}
		if svc == "running" {
			act, reason = Restart, "The service runs but the endpoint does not answer: restart it"
			changes = nil
		}
		cp.emit(Step{Action: act, Cluster: cp.c.Name, Member: m.name, MemberID: m.id(), Reason: reason, Changes: changes, Voters: v, Tolerated: t}, false)
		cp.voters[m] = true
		m.down = false
	}
}

// emitUploads emits w's uploads (none when w is nil) with the tolerance in
// effect: an upload takes nothing down.
func (cp *clusterPlanner) emitUploads(w *memberWork) {
	if w == nil {
		return
	}
	v, t := cp.tolerance()
	for _, s := range w.uploads {
		s.Voters, s.Tolerated = v, t
		cp.emit(s, false)
	}
}

// writeConfigStep is the WriteConfig step of w's config. down says the
// member is down and started after the write (recovery) rather than
// restarted; such a step does not carry the leader flag.
func (cp *clusterPlanner) writeConfigStep(w *memberWork, down bool) Step {
	m := w.m
	v, t := cp.tolerance()
	s := Step{Action: WriteConfig, Cluster: cp.c.Name, Member: m.name, MemberID: m.id(), Reason: writeReason(m, w.config.dropped, down),
		Changes: w.config.changes, Config: w.config.file, ConfigObserved: observedConfig(m.host), Voters: v, Tolerated: t}
	if !down {
		s.Leader = m.leader
	}
	return s
}

// restartStep is the one Restart of w's member in the rolling change: it
// takes the member down (a voter counts as unavailable while it runs).
func (cp *clusterPlanner) restartStep(w *memberWork) Step {
	m := w.m
	v, a := cp.counts()
	if !m.live.IsLearner {
		a--
	}
	reason := w.restartReason()
	if m.leader {
		reason += "; the member leads, so leadership moves to a follower first"
	} else if m.unhealthy {
		reason += "; the member reports errors, so it goes first"
	}
	s := Step{Action: Restart, Cluster: cp.c.Name, Member: m.name, MemberID: m.id(), Reason: reason, Changes: w.restartChanges(), Leader: m.leader, Voters: v, Tolerated: a - quorum(v)}
	if w.binary != nil {
		// The binaries staged by w.binary, swapped in before the restart.
		s.Action, s.Uploads = UpgradeMember, w.binary.Uploads
		if w.older {
			s.Action = DowngradeMember
		}
	}
	return s
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
