package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/etcdform/etcdform/state"
)

// DefaultMaxIndexLag is the raft index spread GateOptions allows when
// MaxIndexLag is zero.
const DefaultMaxIndexLag = 1000

// gateKey is read (linearizably) on every voting member by the gate.
const gateKey = "/etcdform/health"

// GateOptions tune the health gate.
type GateOptions struct {
	// MaxIndexLag bounds the spread of the voting members' raft applied
	// indexes (0 means DefaultMaxIndexLag).
	MaxIndexLag uint64
	// Exclude is a member the gate does not require: the subject of the
	// step about to run, which may be the very member being recovered or
	// removed. Every other voter must pass.
	Exclude uint64
	// Tolerate lists alarm types ("NOSPACE") the gate reports but does
	// not fail on: the alarms the plan being applied clears. A CORRUPT
	// alarm fails the gate whatever Tolerate says.
	Tolerate []string
}

// tolerates reports whether o lets an alarm of type t pass the gate.
func (o GateOptions) tolerates(t etcdserverpb.AlarmType) bool {
	if t == etcdserverpb.AlarmType_CORRUPT {
		return false
	}
	return slices.Contains(o.Tolerate, t.String())
}

// statusErrors drops from a member's status errors the raised alarms o
// tolerates: etcd lists every raised alarm there too, as
// "memberID:8811417528162693143 alarm:NOSPACE ".
func (o GateOptions) statusErrors(errs []string) []string {
	var out []string
	for _, e := range errs {
		if t, ok := statusAlarm(e); ok && o.tolerates(t) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// statusAlarm parses an alarm out of a status error.
func statusAlarm(e string) (etcdserverpb.AlarmType, bool) {
	_, name, ok := strings.Cut(e, " alarm:")
	if !ok || !strings.HasPrefix(e, "memberID:") {
		return 0, false
	}
	t, ok := etcdserverpb.AlarmType_value[strings.TrimSpace(name)]
	return etcdserverpb.AlarmType(t), ok
}

// GateReport is what one run of the health gate saw. Problems is empty
// when the gate passed; each problem names the member it concerns.
type GateReport struct {
	Time     time.Time
	LeaderID uint64
	Members  []GateMember // voting members, by ID
	Alarms   []state.Alarm
	// Tolerated describes each raised alarm that GateOptions.Tolerate let
	// pass, e.g. "NOSPACE on m1 (8e9e05c52164694d)".
	Tolerated []string
	Problems  []string
}

// GateMember is one voting member's part of a GateReport.
type GateMember struct {
	Member   Member
	Endpoint string
	// ReadError is "" when a linearizable read through this member
	// succeeded.
	ReadError   string
	Status      *state.EndpointStatus // nil when it did not answer
	StatusError string
}

// Passed reports whether every check passed.
func (r *GateReport) Passed() bool { return r != nil && len(r.Problems) == 0 }

// String lists the problems, one per line, or "healthy".
func (r *GateReport) String() string {
	if r == nil {
		return "no health report"
	}
	if r.Passed() {
		tol := ""
		if len(r.Tolerated) > 0 {
			tol = "; tolerated alarms (the plan clears them): " + strings.Join(r.Tolerated, ", ")
		}
		return fmt.Sprintf("healthy: %d voting members, leader %s%s", len(r.Members), hexID(r.LeaderID), tol)
	}
	return strings.Join(r.Problems, "; ")
}

// Gate runs the health gate once, with fresh requests (nothing cached). It
// passes when every voting member answers a linearizable read sent to its
// own endpoint, all answering members agree on one leader that is a voting
// member, the voters' raft applied indexes are within MaxIndexLag of each
// other, and no alarm is raised but those opts.Tolerate lets pass. Learners are not checked (see
// WaitLearnerCaughtUp). It returns the report, and an error
// wrapping ErrUnhealthy that lists the problems when it did not pass.
func (c *Client) Gate(ctx context.Context, opts GateOptions) (*GateReport, error) {
	if opts.MaxIndexLag == 0 {
		opts.MaxIndexLag = DefaultMaxIndexLag
	}
	rep := &GateReport{Time: time.Now()}
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }

	lctx, cancel := c.probeCtx(ctx)
	resp, err := c.cli.MemberList(lctx) // linearizable
	cancel()
	if err == nil {
		c.o.down.setQuorumLost(false)
	}
	if err != nil {
		problem("member list from %s: %v", strings.Join(c.cli.Endpoints(), ","), err)
		return rep, fmt.Errorf("%w: %s", ErrUnhealthy, rep)
	}
	var voters []Member
	for _, m := range toMembers(resp.Members) {
		if !m.IsLearner && (opts.Exclude == 0 || m.ID != opts.Exclude) {
			voters = append(voters, m)
		}
	}

	rep.Members = make([]GateMember, len(voters))
	var alarms *clientv3.AlarmResponse
	var alarmErr error
	var wg sync.WaitGroup
	for i, m := range voters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Members[i] = c.gateMember(ctx, m)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		actx, cancel := c.probeCtx(ctx)
		defer cancel()
		alarms, alarmErr = c.cli.AlarmList(actx)
	}()
	wg.Wait()

	leaders := map[uint64][]string{}
	var minIdx, maxIdx uint64
	var minM, maxM string
	first := true
	for _, gm := range rep.Members {
		m := gm.Member
		at := ""
		if gm.Endpoint != "" {
			at = " at " + gm.Endpoint
		}
		if gm.ReadError != "" {
			problem("%s%s: linearizable read failed: %s", m, at, gm.ReadError)
		}
		if gm.Status == nil {
			problem("%s%s: status failed: %s", m, at, gm.StatusError)
			continue
		}
		st := gm.Status
		if errs := opts.statusErrors(st.Errors); len(errs) > 0 {
			problem("%s reports errors: %s", m, strings.Join(errs, ", "))
		}
		if st.Leader == 0 {
			problem("%s has no leader", m)
		} else {
			leaders[st.Leader] = append(leaders[st.Leader], m.Name)
		}
		if first || st.RaftAppliedIndex < minIdx {
			minIdx, minM = st.RaftAppliedIndex, m.String()
		}
		if first || st.RaftAppliedIndex > maxIdx {
			maxIdx, maxM = st.RaftAppliedIndex, m.String()
		}
		first = false
	}
	switch len(leaders) {
	case 0:
		if len(rep.Members) > 0 {
			problem("no member reports a leader")
		}
	case 1:
		for l := range leaders {
			rep.LeaderID = l
			if _, ok := findMember(voters, l); !ok && (opts.Exclude == 0 || l != opts.Exclude) {
				problem("leader %s is not a voting member", hexID(l))
			}
		}
	default:
		var parts []string
		for l, names := range leaders {
			parts = append(parts, fmt.Sprintf("%s by %s", hexID(l), strings.Join(names, ",")))
		}
		problem("members disagree on the leader: %s", strings.Join(parts, "; "))
	}
	if !first && maxIdx-minIdx > opts.MaxIndexLag {
		problem("%s lags: raft applied index %d, %s is at %d (bound %d)", minM, minIdx, maxM, maxIdx, opts.MaxIndexLag)
	}
	if alarmErr != nil {
		problem("alarm list: %v", alarmErr)
	} else {
		for _, a := range alarms.Alarms {
			rep.Alarms = append(rep.Alarms, state.Alarm{MemberID: a.MemberID, Type: a.Alarm.String()})
			name := hexID(a.MemberID)
			if m, ok := findMember(voters, a.MemberID); ok {
				name = m.String()
			}
			if opts.tolerates(a.Alarm) {
				rep.Tolerated = append(rep.Tolerated, fmt.Sprintf("%s on %s", a.Alarm, name))
				continue
			}
			problem("alarm %s raised on %s", a.Alarm, name)
		}
	}
	if !rep.Passed() {
		return rep, fmt.Errorf("%w: %s", ErrUnhealthy, rep)
	}
	return rep, nil
}

// gateMember reads linearizably and asks the status of one voting member,
// through a client pinned to its first client URL.
func (c *Client) gateMember(ctx context.Context, m Member) GateMember {
	gm := GateMember{Member: m}
	if len(m.ClientURLs) == 0 {
		gm.ReadError = "no client URLs: the member has not started"
		gm.StatusError = gm.ReadError
		return gm
	}
	gm.Endpoint = m.ClientURLs[0]
	pc, err := c.pinned(gm.Endpoint)
	if err != nil {
		gm.ReadError, gm.StatusError = err.Error(), err.Error()
		return gm
	}
	defer pc.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rctx, cancel := c.probeCtx(ctx)
		defer cancel()
		if _, err := pc.Get(rctx, gateKey); err != nil { // linearizable by default
			gm.ReadError = err.Error()
		}
	}()
	sctx, cancel := c.probeCtx(ctx)
	err = dialCheck(sctx, gm.Endpoint)
	var st *clientv3.StatusResponse
	if err == nil {
		st, err = pc.Status(sctx, gm.Endpoint)
	}
	cancel()
	if ctx.Err() == nil {
		c.o.down.record(gm.Endpoint, err)
	}
	if err != nil {
		gm.StatusError = err.Error()
	} else {
		gm.Status = toEndpointStatus(st)
	}
	wg.Wait()
	return gm
}

// WaitHealthy runs Gate until it passes or ctx ends, polling at the poll
// interval. On timeout the error wraps ErrUnhealthy and ctx's error and
// gives the last report's problems; the last report is returned too.
func (c *Client) WaitHealthy(ctx context.Context, opts GateOptions) (*GateReport, error) {
	start := time.Now()
	var last *GateReport
	for {
		rep, err := c.Gate(ctx, opts)
		if err == nil {
			return rep, nil
		}
		// A report cut short by ctx's end says less than the one before.
		if last == nil || ctx.Err() == nil {
			last = rep
		}
		if werr := wait(ctx, c.o.pollInterval); werr != nil {
			return last, fmt.Errorf("%w: not healthy after %s (%w): %s", ErrUnhealthy, time.Since(start).Round(time.Millisecond), werr, last)
		}
	}
}

// WaitLearnerCaughtUp waits until learner id has started and applied
// everything the leader had committed when last asked, or ctx ends. It
// returns nil at once when id is no longer a learner.
//
// It returns an error wrapping ErrLearnerSilent when the learner has been,
// for learnerSilentAfter, in the state etcd leaves a new member in when it
// loses the wait for its first publish (the entry reached the member inside
// the leader's snapshot, so the member's own wait for it never fires): the
// member list shows it published, its own view of the cluster (its peer
// URL's /members, which etcd serves before the member serves clients)
// shows it published too, so it runs, answers its peers and has applied
// its publish, and yet its status on its client URL times out (its client
// listener accepts the connection; etcd serves it only after it publishes
// again, one request timeout, 7 s by default, later). Only a newMember
// (one that joined with an empty data dir, whose only publish is its
// first) is ever reported so: a learner restarted with its data shows its
// old publish while it catches up. A learner that is down, hung (its peer
// port does not answer either), refuses connections, still receives its
// snapshot or is behind its publish is waited for. Only plain-http peer
// URLs are asked (a TLS peer port wants a peer certificate); a learner
// behind one, or whose peer port cannot be reached from here, is waited
// for too.
func (c *Client) WaitLearnerCaughtUp(ctx context.Context, id uint64, newMember bool) error {
	var last error
	var silentSince time.Time
	for {
		t := time.Now()
		done, silent, err := c.learnerCaughtUp(ctx, id, newMember)
		if done {
			return nil
		}
		last = err
		switch {
		case !silent:
			silentSince = time.Time{}
		case silentSince.IsZero():
			silentSince = t
		case time.Since(silentSince) >= learnerSilentAfter:
			return fmt.Errorf("%w: member %s, for %s: %w", ErrLearnerSilent, hexID(id), time.Since(silentSince).Round(time.Millisecond), err)
		}
		if werr := wait(ctx, c.o.pollInterval); werr != nil {
			return fmt.Errorf("%w: member %s (%w): %w", ErrNotCaughtUp, hexID(id), werr, last)
		}
	}
}

// learnerSilentAfter is how long a learner must stay silent (see
// WaitLearnerCaughtUp) before it is reported; learnerProbe bounds each of
// the requests that tell (a member that serves answers at once).
const (
	learnerSilentAfter = time.Second
	learnerProbe       = 500 * time.Millisecond
)

// learnerCaughtUp reports whether id is caught up (or no longer a
// learner), and whether it is silent now (see WaitLearnerCaughtUp).
func (c *Client) learnerCaughtUp(ctx context.Context, id uint64, newMember bool) (done, silent bool, err error) {
	ms, _, err := c.Members(ctx)
	if err != nil {
		return false, false, err
	}
	m, ok := findMember(ms, id)
	if !ok {
		return false, false, fmt.Errorf("%w: %s", ErrMemberNotFound, hexID(id))
	}
	if !m.IsLearner {
		return true, false, nil
	}
	if newMember && m.Name != "" && len(m.ClientURLs) > 0 {
		pctx, cancel := context.WithTimeout(ctx, learnerProbe)
		err := c.learnerStatus(pctx, m)
		cancel()
		if err != nil {
			if ctx.Err() != nil || !timedOut(err) {
				return false, false, err
			}
			pctx, cancel := context.WithTimeout(ctx, learnerProbe)
			defer cancel()
			return false, c.publishedItself(pctx, m), err
		}
	}
	done, err = c.caughtUp(ctx, ms, m)
	return done, false, err
}

// timedOut reports whether err is a request that ran out of time, as
// opposed to one refused or failed.
func timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}

// learnerStatus asks learner m for its status (through the test hook when
// set).
func (c *Client) learnerStatus(ctx context.Context, m Member) error {
	if c.o.learnerStatus != nil {
		return c.o.learnerStatus(ctx, m)
	}
	return c.statuses(ctx, []Member{m}, true)[0].Err
}

// publishedItself reports whether member m's own view of the cluster (GET
// /members on its first peer URL, plain http only) lists m with its name
// and client URLs set. Any failure is false.
func (c *Client) publishedItself(ctx context.Context, m Member) bool {
	if len(m.PeerURLs) == 0 || !strings.HasPrefix(m.PeerURLs[0], "http://") {
		return false
	}
	var view []struct {
		ID         uint64   `json:"id"`
		Name       string   `json:"name"`
		ClientURLs []string `json:"clientURLs"`
	}
	if getJSON(ctx, nil, strings.TrimSuffix(m.PeerURLs[0], "/")+"/members", &view) != nil {
		return false
	}
	for _, v := range view {
		if v.ID == m.ID {
			return v.Name != "" && len(v.ClientURLs) > 0
		}
	}
	return false
}

// caughtUp reports whether member m has applied everything its leader had
// committed when asked, just before m: true under a steady write load
// too, where m is always a few entries behind the leader's newest ones.
func (c *Client) caughtUp(ctx context.Context, ms []Member, m Member) (bool, error) {
	ls := c.statuses(ctx, []Member{m}, true)[0]
	if ls.Err != nil {
		return false, ls.Err
	}
	leader, ok := findMember(ms, ls.Status.Leader)
	if !ok {
		return false, fmt.Errorf("%s: %w", m, ErrNoLeader)
	}
	lst := c.statuses(ctx, []Member{leader}, true)[0]
	if lst.Err != nil {
		return false, lst.Err
	}
	// Asked after the leader, the learner must have applied at least what
	// the leader had committed.
	ls = c.statuses(ctx, []Member{m}, true)[0]
	if ls.Err != nil {
		return false, ls.Err
	}
	if ls.Status.RaftAppliedIndex < lst.Status.RaftIndex {
		return false, fmt.Errorf("%s has applied index %d, leader %s committed %d", m, ls.Status.RaftAppliedIndex, leader, lst.Status.RaftIndex)
	}
	return true, nil
}
