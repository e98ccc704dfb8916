package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
)

// lostQuorum reports whether the cluster has lost its quorum for good: no
// member reports a leader, and the voters that answer plus those that are
// down but could be started with their data (host reachable, a WAL in
// the data dir or not known to lack one) are fewer than a quorum. A
// cluster that can get its quorum back by starting members gets the
// usual plan (recoverDown starts them).
func (cp *clusterPlanner) lostQuorum() bool {
	if cp.oc.LeaderID != 0 {
		return false
	}
	v, back := 0, 0
	for _, m := range append(append([]*member{}, cp.kept...), cp.removed...) {
		if m.live.IsLearner {
			continue
		}
		v++
		if !m.live.Down() || cp.startable(m) {
			back++
		}
	}
	return v > 0 && back < quorum(v)
}

// startable: a down member whose etcd can be started with its own data.
func (cp *clusterPlanner) startable(m *member) bool {
	return !m.hostDown && m.host != nil && (m.host.Data == nil || m.host.Data.HasWAL)
}

// gone says why a voter cannot come back: "endpoint down, data dir holds
// no WAL" or "host unreachable".
func (cp *clusterPlanner) gone(m *member) string {
	if m.hostDown {
		return "host unreachable: " + hostError(m.host)
	}
	return "down, its data dir holds no WAL"
}

// survivor is the kept voter that answers with the highest raft applied
// index (by name on a tie), whose host is reachable; nil when none.
func (cp *clusterPlanner) survivor() *member {
	var best *member
	for _, m := range cp.kept {
		if m.live.IsLearner || m.live.Down() || m.hostDown {
			continue
		}
		if best == nil || m.live.Status.RaftAppliedIndex > best.live.Status.RaftAppliedIndex {
			best = m
		}
	}
	return best
}

// lossSummary says what a recovery from s loses: its applied index
// against the highest raft index any member reported, and how old the
// newest backup is.
func (cp *clusterPlanner) lossSummary(s *member) string {
	applied := s.live.Status.RaftAppliedIndex
	var highest uint64
	who := s.name
	for _, lm := range cp.oc.Members {
		if lm.Status != nil && lm.Status.RaftIndex > highest {
			highest, who = lm.Status.RaftIndex, lm.Name
		}
	}
	loss := fmt.Sprintf("%s has applied raft index %d; the highest index any member reported is %d (%s)", s.name, applied, highest, who)
	if highest > applied {
		loss += fmt.Sprintf(": the %d entries after %d are LOST", highest-applied, applied)
	} else {
		loss += ": no entry a member reported is lost, but writes the members that are gone acknowledged and " + s.name + " never applied are (how many cannot be known)"
	}
	if b := cp.oc.Backups; b != nil && b.Count > 0 && !cp.now.IsZero() {
		loss += fmt.Sprintf("; the newest backup is %s old (%s)", cp.now.Sub(b.Newest).Round(time.Second), b.Newest.UTC().Format(time.RFC3339))
	} else if cp.c.Backup != nil {
		loss += "; the backup destination holds no backup that was seen"
	}
	return loss
}

// recoverQuorum plans a cluster that lost its quorum (lostQuorum). Without
// Options.Recover it refuses, naming the survivor and the command. With
// it: a StopMember of every other member whose host is reachable (its
// data moved aside), RecoverSurvivor on the survivor (a one-member
// cluster with a new cluster ID from its own data, the old data kept
// aside), then AddLearner and Promote of each other desired member whose
// host is reachable, one at a time. The snapshot before it comes from
// the survivor.
func (cp *clusterPlanner) recoverQuorum() {
	c := cp.c
	var goneList []string
	for _, m := range append(append([]*member{}, cp.kept...), cp.removed...) {
		if !m.live.IsLearner && m.live.Down() && !cp.startable(m) {
			goneList = append(goneList, fmt.Sprintf("%s (%s)", m.label(), cp.gone(m)))
		}
	}
	v, _ := cp.initialCounts()
	s := cp.survivor()
	if s == nil {
		cp.refuse("", 0, "Quorum lost, no survivor",
			"Cluster %s has lost its quorum (%d voters, need %d; gone: %s) and no voter whose host can be reached answers. Nothing can be recovered from a member: `etcdform plan --restore-from latest` plans the restore from the newest backup (docs/recovery.md).",
			c.Name, v, quorum(v), strings.Join(goneList, "; "))
		return
	}
	loss := cp.lossSummary(s)
	if !cp.opts.Recover {
		cp.refuse(s.name, 0, "Quorum lost",
			"Cluster %s has lost its quorum: of %d voters, %s cannot come back, and no step can be carried out without a leader. The survivor is %s. Run `etcdform plan --recover %s` to plan the recovery from %s: every other member stopped with its data moved aside, %s made a one-member cluster from its own data (its data kept aside; a new cluster ID, the revision bumped), and the others added back one at a time. %s.",
			c.Name, v, strings.Join(goneList, "; "), s.name, orDot(cp.opts.Meta.ConfigDir), s.name, s.name, loss)
		return
	}
	cp.warn(s.name, "Recovery from a lost quorum",
		"Cluster %s has lost its quorum (gone: %s) and is recovered from %s, the member with the highest applied index. DATA LOSS: %s. Clients see a new cluster ID and a revision %d higher.",
		c.Name, strings.Join(goneList, "; "), s.name, loss, RecoverBumpRevision)
	if cp.budget > 0 {
		cp.warn("", "Below fault tolerance during the recovery", "Cluster %s runs below fault_tolerance = %d until the last member is promoted.", c.Name, cp.budget)
	}

	// 1. Stop the others and move their data aside.
	others := append(append([]*member{}, cp.kept...), cp.removed...)
	sort.SliceStable(others, func(i, j int) bool { return others[i].name < others[j].name })
	v0, a0 := cp.initialCounts()
	for _, m := range others {
		if m == s {
			continue
		}
		if m.hostDown || m.host == nil {
			cp.warn(m.name, "Member left out of the recovery", "The host of %s cannot be reached (%s), so it is neither stopped nor added back. Before its etcd runs again, disable it and move %s/member aside by hand: it belongs to the old cluster. Plan again once the host is back to add it.", m.label(), hostError(m.host), c.Service.DataDir)
			continue
		}
		cp.emit(Step{Action: StopMember, Cluster: c.Name, Member: m.name, MemberID: m.id(),
			Reason:  fmt.Sprintf("Recovery from a lost quorum: stop the member and disable its service so that nothing runs with the old cluster, and move its data dir's member/ aside (kept, named %s<time>) so that it can be added back empty", AsidePrefix),
			Changes: []Change{{Attr: "service", Before: serviceOf(m), After: "stopped"}}, Voters: v0, Tolerated: a0 - quorum(v0)}, false)
	}

	// 2. The survivor becomes a one-member cluster from its own data.
	token := fmt.Sprintf("%s-after-%x", c.Name, cp.oc.ClusterID)
	f, err := render.MemberFor(c, s.desired, etcdconf.Bootstrap{InitialCluster: s.name + "=" + s.desired.PeerURL, Token: token, State: "new"}, cp.runsVersion(s))
	var file []byte
	if err == nil {
		file, err = etcdconf.Marshal(f)
	}
	if err != nil {
		cp.refuseRender(s.name, err)
	}
	cp.emit(Step{Action: RecoverSurvivor, Cluster: c.Name, Member: s.name, MemberID: s.id(), PeerURL: s.desired.PeerURL,
		Reason: fmt.Sprintf("Recovery from a lost quorum: stop %s, move its data dir's member/ aside (kept: what it recovers from), restore that copy's data as a one-member cluster with the new cluster token %s (a new cluster ID) and the revision bumped by %d with the history marked compacted, write its config and start it. DATA LOSS: %s", s.name, token, RecoverBumpRevision, loss),
		Changes: []Change{
			{Attr: "applied-index", Before: fmt.Sprint(s.live.Status.RaftAppliedIndex), After: fmt.Sprint(s.live.Status.RaftAppliedIndex)},
			{Attr: "cluster-id", Before: fmt.Sprintf("%x", cp.oc.ClusterID), After: "(new)"},
			{Attr: "voters", Before: fmt.Sprint(v0), After: "1"},
		},
		Config: file, ConfigObserved: observedConfig(s.host), Voters: 1, Tolerated: 0}, false)

	// 3. The others come back one at a time, as new members.
	cp.voters = map[*member]bool{s: true}
	cp.added = nil
	for _, m := range cp.kept {
		if m == s || m.hostDown || m.host == nil {
			continue
		}
		cp.added = append(cp.added, &member{name: m.name, desired: m.desired, host: m.host, cleared: true})
	}
	for _, m := range cp.added {
		// tlsPlan does not run in a recovery: the TLS files of a host
		// that lost them go up before its member is added.
		if ups := cp.startUploads(m.desired, m.host); len(ups) > 0 {
			w := cp.work.of(m)
			w.uploads = append(w.uploads, ups...)
		}
		cp.addMember(m, false)
	}
}

func serviceOf(m *member) string {
	if m.host != nil && m.host.ServiceState != "" {
		return m.host.ServiceState
	}
	return "unknown"
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}
