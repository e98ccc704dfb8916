package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

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
	// rebuilt: a down voter whose data dir holds no WAL (dataDirs); it is
	// removed and added again under the same name.
	rebuilt bool
	// cleared: a member to add whose data dir's member/ an earlier step
	// moves aside (the recovery from a lost quorum), so that what its
	// data dir holds now does not matter.
	cleared bool
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

// observeMembership pairs desired and live members into kept, added and
// removed (match), and fills the simulated voter set with every live voter,
// up unless down. It returns false when the cluster cannot be planned.
func (cp *clusterPlanner) observeMembership() bool {
	if !cp.match() {
		return false
	}
	for _, m := range append(append([]*member{}, cp.kept...), cp.removed...) {
		if !m.live.IsLearner {
			cp.voters[m] = !m.down
		}
	}
	return true
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
	errs := statusErrors(m.live.Status)
	m.unhealthy = !m.down && len(errs) > 0
	if m.unhealthy {
		cp.warn(m.name, "Member reports errors", "Member %s reports: %s. It is restarted first in a rolling change.", m.label(), strings.Join(errs, "; "))
	}
	if m.desired != nil && !m.down && m.hostDown {
		cp.refuse(m.name, 0, "Host unreachable",
			"The host of member %s cannot be reached over SSH (%s), so its config file cannot be compared and the plan would be incomplete. Restore SSH access and plan again.", m.name, hostError(m.host))
	}
}

// removeDeadAndStale emits the removals that go before any addition: dead
// members and learners that are not in the configuration, then kept
// members that are added again under the same name: rebuilt voters
// (dataDirs) and learners that are not running (left by an interrupted
// apply). Such a member is put first in cp.added, in the order of its
// removal, and its uploads are handed over to the new member
// (work.handOver).
func (cp *clusterPlanner) removeDeadAndStale() {
	for _, m := range cp.removed {
		if m.live.IsLearner || m.down {
			cp.emit(cp.removeStep(m), true)
		}
	}
	var again []*member
	for _, m := range cp.kept {
		switch {
		case m.rebuilt:
			cp.warn(m.name, "Member rebuilt", "Member %s is down and its data dir %s on %s holds no WAL: the host was rebuilt or its data lost, so started it could not rejoin as member %x. It is removed and added again as a learner under the same name and URLs, then promoted.", m.name, cp.c.Service.DataDir, m.desired.Host, m.id())
			s := cp.removeStep(m)
			s.Reason = rebuildReason(m, cp.c.Service.DataDir) + "; its service is stopped and disabled until the add, and anything left in its data dir's member/ is moved aside (never deleted)"
			cp.emit(s, true)
		case m.live.IsLearner && (m.down || m.hostDown):
			cp.warn(m.name, "Learner not caught up", "Member %s is a learner that is not running (left by an interrupted apply). It is removed and added again.", m.label())
			cp.emit(cp.removeStep(m), true)
		default:
			continue
		}
		a := &member{name: m.name, desired: m.desired, host: m.host, hostDown: m.hostDown, cleared: !m.hostDown}
		cp.work.handOver(m, a)
		again = append(again, a)
	}
	cp.added = append(again, cp.added...)
}

// promoteLearners promotes each healthy learner left by an earlier apply,
// before anything is added, so that there is never more than one learner.
// Its work stays in the work list for the rolling change.
func (cp *clusterPlanner) promoteLearners() {
	for _, m := range cp.kept {
		if !m.live.IsLearner || m.down || m.hostDown {
			continue
		}
		cp.warn(m.name, "Learner found", "Member %s is a learner, probably left by an interrupted apply. It is promoted before any other member is added, since etcd allows one learner at a time.", m.name)
		cp.emit(cp.promoteStep(m, "Promote the learner left by an earlier apply"), true)
	}
}

// addMembers adds the members of cp.added, one learner at a time, in
// configuration order (addMember).
func (cp *clusterPlanner) addMembers() {
	for _, m := range cp.added {
		cp.addMember(m, true)
	}
}

// addMember adds m: its uploads from the work list (the new member starts
// with its files in place), then AddLearner with the rendered config
// template, then Promote; check says whether the two must keep the
// fault-tolerance budget. It refuses a member whose host is unreachable
// or whose data dir is not empty (unless cleared).
func (cp *clusterPlanner) addMember(m *member, check bool) {
	c := cp.c
	if m.hostDown {
		cp.refuse(m.name, 0, "New member's host unreachable",
			"Member %s is to be added, but its host %s cannot be reached over SSH (%s). Restore access to the host and plan again.", m.name, m.desired.Host, hostError(m.host))
		return
	}
	if m.host != nil && !m.cleared && !m.host.DataDirEmpty && m.host.DataDirBytes > 0 {
		cp.refuse(m.name, 0, "New member's data dir not empty",
			"Member %s is to be added, but its data dir %s on %s is not empty (%d bytes). A new member must start empty; move the directory aside on the host and plan again.", m.name, c.Service.DataDir, m.desired.Host, m.host.DataDirBytes)
	}
	cp.emitUploads(cp.work.take(m))
	f, err := render.MemberFor(c, m.desired, etcdconf.Bootstrap{Token: c.Name, State: "existing"}, cp.runsVersion(m))
	var tmpl []byte
	if err == nil {
		tmpl, err = etcdconf.Marshal(f)
	}
	if err != nil {
		cp.refuseRender(m.name, err)
	}
	v, t := cp.tolerance()
	cp.emit(Step{Action: AddLearner, Cluster: c.Name, Member: m.name, PeerURL: m.desired.PeerURL,
		Reason:  "New member: add it as a learner, write its config, start it and wait until it has caught up",
		Changes: []Change{{Attr: "peer-url", After: m.desired.PeerURL}},
		Config:  tmpl, Voters: v, Tolerated: t}, check)
	cp.emit(cp.promoteStep(m, "Promote the new member to a voter once it has caught up"), check)
}

// removeLive removes the live members that are not in the configuration,
// followers first and the leader last, after every addition.
func (cp *clusterPlanner) removeLive() {
	var live []*member
	for _, m := range cp.removed {
		if !m.live.IsLearner && !m.down {
			live = append(live, m)
		}
	}
	sort.SliceStable(live, func(i, j int) bool { return !live[i].leader && live[j].leader })
	for _, m := range live {
		cp.emit(cp.removeStep(m), true)
	}
}

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
