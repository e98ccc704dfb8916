package etcd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Member is one entry of the live member list.
type Member struct {
	ID         uint64
	Name       string // "" for a member added but never started
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
}

// String names the member for messages: "etcd-1 (8e9e05c52164694d)".
func (m Member) String() string {
	if m.Name == "" {
		return "member " + hexID(m.ID) + " (not started)"
	}
	return m.Name + " (" + hexID(m.ID) + ")"
}

func toMembers(pbs []*etcdserverpb.Member) []Member {
	out := make([]Member, 0, len(pbs))
	for _, m := range pbs {
		out = append(out, Member{
			ID: m.ID, Name: m.Name, IsLearner: m.IsLearner,
			PeerURLs:   append([]string(nil), m.PeerURLs...),
			ClientURLs: append([]string(nil), m.ClientURLs...),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Members returns the live member list, read linearizably (fresh).
func (c *Client) Members(ctx context.Context) ([]Member, uint64, error) {
	resp, err := c.cli.MemberList(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: member list from %v: %w", c.cli.Endpoints(), err)
	}
	return toMembers(resp.Members), resp.Header.GetClusterId(), nil
}

func findMember(ms []Member, id uint64) (Member, bool) {
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// memberStatus is one member's Maintenance.Status answer.
type memberStatus struct {
	Member   Member
	Endpoint string // the client URL that answered (or the last tried)
	Status   *clientv3.StatusResponse
	Err      error
}

// statuses asks every given member for its status, all in parallel, each
// bounded by the endpoint timeout. A member with several client URLs is
// asked on each; the first URL (in order) that answers wins. With fresh
// false, endpoints the shared Down knows as down are not asked (see
// Down).
func (c *Client) statuses(ctx context.Context, ms []Member, fresh bool) []memberStatus {
	type probe struct {
		resp *clientv3.StatusResponse
		err  error
	}
	probes := make([][]probe, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		probes[i] = make([]probe, len(m.ClientURLs))
		for j, ep := range m.ClientURLs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				probes[i][j].resp, probes[i][j].err = c.status(ctx, ep, fresh)
			}()
		}
	}
	wg.Wait()
	out := make([]memberStatus, len(ms))
	for i, m := range ms {
		out[i].Member = m
		if len(m.ClientURLs) == 0 {
			out[i].Err = fmt.Errorf("%s has no client URLs: it has not started", m)
			continue
		}
		for j, ep := range m.ClientURLs {
			out[i].Endpoint = ep
			if probes[i][j].err == nil {
				out[i].Status, out[i].Err = probes[i][j].resp, nil
				break
			}
			out[i].Err = fmt.Errorf("status of %s at %s: %w", m, ep, probes[i][j].err)
		}
	}
	return out
}

// leaderOf picks the leader from statuses: the one reported at the highest
// raft term (a partitioned member may still name a stale leader).
func leaderOf(sts []memberStatus) uint64 {
	var leader, term uint64
	for _, s := range sts {
		if s.Status == nil || s.Status.Leader == 0 {
			continue
		}
		if s.Status.RaftTerm > term || leader == 0 {
			leader, term = s.Status.Leader, s.Status.RaftTerm
		}
	}
	return leader
}

// Leader returns the current leader's ID and the live member list, from
// fresh statuses of every member.
func (c *Client) Leader(ctx context.Context) (uint64, []Member, error) {
	ms, _, err := c.Members(ctx)
	if err != nil {
		return 0, nil, err
	}
	l := leaderOf(c.statuses(ctx, ms, false))
	if l == 0 {
		return 0, ms, ErrNoLeader
	}
	return l, ms, nil
}

// retriable are the refusals etcd gives for a membership change that may
// succeed later: a member (re)started less than 5s ago (HealthInterval),
// not enough started members, a learner not yet in sync, or a leader
// election in progress.
var retriable = []error{
	rpctypes.ErrGRPCUnhealthy,
	rpctypes.ErrGRPCMemberNotEnoughStarted,
	rpctypes.ErrGRPCLearnerNotReady,
	rpctypes.ErrGRPCNoLeader,
	rpctypes.ErrGRPCNotLeader,
	rpctypes.ErrGRPCLeaderChanged,
	rpctypes.ErrGRPCTimeout,
	rpctypes.ErrGRPCTimeoutDueToLeaderFail,
	rpctypes.ErrGRPCTimeoutDueToConnectionLost,
}

// ambiguous are the errors after which the change may have been applied.
var ambiguous = []error{
	rpctypes.ErrGRPCLeaderChanged,
	rpctypes.ErrGRPCTimeout,
	rpctypes.ErrGRPCTimeoutDueToLeaderFail,
	rpctypes.ErrGRPCTimeoutDueToConnectionLost,
}

// retry calls f until it succeeds, fails with an error not in retriable,
// or ctx ends, backing off from 100ms to 1s between attempts. f learns
// whether an earlier attempt may have been applied.
func (c *Client) retry(ctx context.Context, what string, f func(ctx context.Context, maybeApplied bool) error) error {
	backoff := 100 * time.Millisecond
	maybeApplied := false
	var last error
	for n := 1; ; n++ {
		err := f(ctx, maybeApplied)
		if err == nil {
			return nil
		}
		if !isEtcdErr(err, retriable...) {
			return fmt.Errorf("etcd: %s: %w", what, err)
		}
		maybeApplied = maybeApplied || isEtcdErr(err, ambiguous...)
		last = err
		if c.o.onRetry != nil {
			c.o.onRetry(what, err)
		}
		if werr := wait(ctx, backoff); werr != nil {
			return fmt.Errorf("etcd: %s: still refused after %d attempts when the deadline came (%w): %w", what, n, werr, last)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// AddLearner adds peerURL as a learner. It returns the new member's ID and
// the member list etcd answered with (the new member has no name yet).
// Refusals because a member started less than 5s ago are retried until ctx
// ends. Errors: the etcd refusal, wrapped, naming peerURL.
func (c *Client) AddLearner(ctx context.Context, peerURL string) (uint64, []Member, error) {
	var id uint64
	var members []Member
	err := c.retry(ctx, "adding learner "+peerURL, func(ctx context.Context, maybeApplied bool) error {
		resp, err := c.cli.MemberAddAsLearner(ctx, []string{peerURL})
		if err == nil {
			id, members = resp.Member.ID, toMembers(resp.Members)
			return nil
		}
		if maybeApplied && isEtcdErr(err, rpctypes.ErrGRPCPeerURLExist) {
			// An earlier attempt went through: find the learner it made.
			ms, _, lerr := c.Members(ctx)
			if lerr != nil {
				return lerr
			}
			for _, m := range ms {
				for _, u := range m.PeerURLs {
					if u == peerURL && m.IsLearner {
						id, members = m.ID, ms
						return nil
					}
				}
			}
		}
		return err
	})
	return id, members, err
}

// Promote makes learner id a voting member. "can only promote a learner
// member which is in sync with leader" and the 5s health refusal are
// retried with backoff until ctx ends.
func (c *Client) Promote(ctx context.Context, id uint64) error {
	return c.retry(ctx, "promoting member "+hexID(id), func(ctx context.Context, maybeApplied bool) error {
		_, err := c.cli.MemberPromote(ctx, id)
		if maybeApplied && isEtcdErr(err, rpctypes.ErrGRPCMemberNotLearner) {
			return nil // an earlier attempt went through
		}
		return err
	})
}

// Remove removes member id. Refusals because a member started less than 5s
// ago, or too few members are started, are retried until ctx ends.
func (c *Client) Remove(ctx context.Context, id uint64) error {
	return c.retry(ctx, "removing member "+hexID(id), func(ctx context.Context, maybeApplied bool) error {
		_, err := c.cli.MemberRemove(ctx, id)
		if maybeApplied && isEtcdErr(err, rpctypes.ErrGRPCMemberNotFound) {
			return nil
		}
		return err
	})
}

// MoveLeader transfers leadership to target. It first waits until target
// has applied everything the leader had committed (caughtUp), polling
// every caughtUpPoll: raft itself only waits, before it hands over, for the
// transferee's log to match, and drops every proposal meanwhile; and a new
// leader that has not applied what it committed delays every write and
// read through it until it has. The request goes to the
// current leader's endpoint (a client pinned to it); it returns once a
// status from target reports target as leader. A learner target is
// refused with ErrLearnerTarget. A leader change in flight is retried.
func (c *Client) MoveLeader(ctx context.Context, target uint64) error {
	return c.retry(ctx, "moving leadership to "+hexID(target), func(ctx context.Context, _ bool) error {
		ms, _, err := c.Members(ctx)
		if err != nil {
			return err
		}
		tm, ok := findMember(ms, target)
		if !ok {
			return fmt.Errorf("%w: %s", ErrMemberNotFound, hexID(target))
		}
		if tm.IsLearner {
			return fmt.Errorf("%w: %s is a learner", ErrLearnerTarget, tm)
		}
		sts := c.statuses(ctx, ms, false)
		leader := leaderOf(sts)
		if leader == 0 {
			return fmt.Errorf("%w (moving leadership to %s)", rpctypes.ErrNoLeader, tm)
		}
		if leader != target {
			if err := c.waitCaughtUp(ctx, ms, tm); err != nil {
				return err
			}
			var ep string
			for _, s := range sts {
				if s.Member.ID == leader && s.Status != nil {
					ep = s.Endpoint
				}
			}
			if ep == "" {
				return fmt.Errorf("etcd: leader %s answers no status: %w", hexID(leader), rpctypes.ErrNoLeader)
			}
			pc, err := c.pinned(ep)
			if err != nil {
				return err
			}
			_, err = pc.MoveLeader(ctx, target)
			pc.Close()
			if err != nil {
				return fmt.Errorf("leader %s at %s: %w", hexID(leader), ep, err)
			}
		}
		return c.waitLeader(ctx, tm)
	})
}

// caughtUpPoll is how often MoveLeader asks whether the transferee has
// caught up: a transferee under load is usually a few entries behind at
// the first look and caught up at the next.
const caughtUpPoll = 10 * time.Millisecond

// waitCaughtUp waits until m has applied what the leader committed
// (caughtUp), or ctx ends.
func (c *Client) waitCaughtUp(ctx context.Context, ms []Member, m Member) error {
	for {
		done, err := c.caughtUp(ctx, ms, m)
		if done {
			return nil
		}
		if werr := wait(ctx, caughtUpPoll); werr != nil {
			return fmt.Errorf("%w: %s, before moving leadership to it (%w): %w", ErrNotCaughtUp, m, werr, err)
		}
	}
}

// waitLeader polls target's own status until it reports itself leader.
func (c *Client) waitLeader(ctx context.Context, target Member) error {
	for {
		st := c.statuses(ctx, []Member{target}, true)[0]
		if st.Status != nil && st.Status.Leader == target.ID {
			return nil
		}
		if err := wait(ctx, c.o.pollInterval); err != nil {
			return fmt.Errorf("etcd: %s does not report itself leader: %w", target, err)
		}
	}
}

// PickTransferee returns the healthy voting member, other than exclude,
// whose raft applied index is closest to the leader's. A member whose
// status reports errors is not healthy, except for the raised alarms of
// the types tolerate names (as the health gate's GateOptions.Tolerate:
// the alarms the plan being applied clears; never CORRUPT). Errors:
// ErrNoTransferee when none answers.
func (c *Client) PickTransferee(ctx context.Context, exclude uint64, tolerate ...string) (uint64, error) {
	gate := GateOptions{Tolerate: tolerate}
	ms, _, err := c.Members(ctx)
	if err != nil {
		return 0, err
	}
	sts := c.statuses(ctx, ms, false)
	leader := leaderOf(sts)
	// The reference is the leader's applied index; when the leader does
	// not answer, the highest one seen.
	var leaderApplied, maxApplied uint64
	leaderAnswered := false
	for _, s := range sts {
		if s.Status == nil {
			continue
		}
		maxApplied = max(maxApplied, s.Status.RaftAppliedIndex)
		if s.Member.ID == leader {
			leaderApplied, leaderAnswered = s.Status.RaftAppliedIndex, true
		}
	}
	if !leaderAnswered {
		leaderApplied = maxApplied
	}
	var best memberStatus
	var bestLag uint64
	var why []error
	for _, s := range sts {
		switch {
		case s.Member.ID == exclude || s.Member.IsLearner:
			continue
		case s.Err != nil:
			why = append(why, s.Err)
			continue
		case len(gate.statusErrors(s.Status.Errors)) > 0:
			why = append(why, fmt.Errorf("%s reports errors: %v", s.Member, s.Status.Errors))
			continue
		case s.Status.Leader == 0 || (leader != 0 && s.Status.Leader != leader):
			why = append(why, fmt.Errorf("%s sees leader %s, not %s", s.Member, hexID(s.Status.Leader), hexID(leader)))
			continue
		}
		lag := absDiff(leaderApplied, s.Status.RaftAppliedIndex)
		if best.Status == nil || lag < bestLag {
			best, bestLag = s, lag
		}
	}
	if best.Status == nil {
		return 0, fmt.Errorf("%w (excluding %s): %w", ErrNoTransferee, hexID(exclude), errors.Join(why...))
	}
	return best.Member.ID, nil
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// MemberVersion is the server version member id reports in its status
// (fresh): "3.6.16".
func (c *Client) MemberVersion(ctx context.Context, id uint64) (string, error) {
	ms, _, err := c.Members(ctx)
	if err != nil {
		return "", err
	}
	m, ok := findMember(ms, id)
	if !ok {
		return "", fmt.Errorf("etcd: no member %s in the member list", hexID(id))
	}
	st := c.statuses(ctx, []Member{m}, true)[0]
	if st.Err != nil {
		return "", st.Err
	}
	return st.Status.Version, nil
}
