package etcd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
	"github.com/etcdform/etcdform/state"
)

func newClient(t *testing.T, eps []string) *Client {
	t.Helper()
	c, err := New(eps, WithEndpointTimeout(time.Second), WithPollInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// shape is the part of an observation a test can predict.
type shape struct {
	Reachable    bool
	Names        []string
	Learners     int
	Answered     []string
	Failed       []string
	HasLeader    bool
	HasClusterID bool
}

func shapeOf(oc *state.Cluster) shape {
	s := shape{Reachable: oc.Reachable, HasLeader: oc.LeaderID != 0, HasClusterID: oc.ClusterID != 0}
	for _, m := range oc.Members {
		s.Names = append(s.Names, m.Name)
		if m.IsLearner {
			s.Learners++
		}
		if m.Status != nil {
			s.Answered = append(s.Answered, m.Name)
		}
		if m.StatusError != "" {
			s.Failed = append(s.Failed, m.Name)
		}
	}
	return s
}

func names(oc *state.Cluster) map[uint64]string {
	out := map[uint64]string{}
	for _, m := range oc.Members {
		out[m.ID] = m.Name
	}
	return out
}

func TestObserve(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())

	oc := c.Observe(deadline(t, 10*time.Second))
	want := shape{Reachable: true, Names: []string{"m1", "m2", "m3"}, Answered: []string{"m1", "m2", "m3"}, HasLeader: true, HasClusterID: true}
	got := shapeOf(oc)
	sortNames(&got)
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Observe (-want +got):\n%s\nerror: %s", d, oc.Error)
	}
	if oc.Voters() != 3 || oc.ClusterVersion != "3.6.0" || oc.Error != "" || len(oc.Alarms) != 0 {
		t.Errorf("voters %d, cluster version %q, error %q, alarms %v", oc.Voters(), oc.ClusterVersion, oc.Error, oc.Alarms)
	}
	if _, ok := names(oc)[oc.LeaderID]; !ok {
		t.Errorf("leader %x is not a member", oc.LeaderID)
	}

	// A dead endpoint is a StatusError, not a failure. (A follower: a
	// killed leader leaves the others leaderless for an election timeout.)
	dead := ""
	for _, m := range oc.Members {
		if m.ID != oc.LeaderID {
			dead = m.Name
		}
	}
	if err := ec.Member(dead).Kill(); err != nil {
		t.Fatal(err)
	}
	oc = c.Observe(deadline(t, 10*time.Second))
	got = shapeOf(oc)
	sortNames(&got)
	var alive []string
	for _, n := range []string{"m1", "m2", "m3"} {
		if n != dead {
			alive = append(alive, n)
		}
	}
	want = shape{Reachable: true, Names: []string{"m1", "m2", "m3"}, Answered: alive, Failed: []string{dead}, HasLeader: true, HasClusterID: true}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Observe with %s killed (-want +got):\n%s", dead, d)
	}
	if m := oc.Member(dead); !strings.Contains(m.StatusError, dead) || !strings.Contains(m.StatusError, ec.Member(dead).ClientURL) {
		t.Errorf("%s's StatusError should name it and its endpoint: %q", dead, m.StatusError)
	}

	// No endpoint at all: Reachable false with the reason.
	for _, name := range alive {
		if err := ec.Member(name).Kill(); err != nil {
			t.Fatal(err)
		}
	}
	oc = c.Observe(deadline(t, 10*time.Second))
	if oc.Reachable || oc.Error == "" || len(oc.Members) != 0 {
		t.Errorf("all killed: reachable %v, error %q, members %d", oc.Reachable, oc.Error, len(oc.Members))
	}
}

func sortNames(s *shape) {
	for _, l := range [][]string{s.Names, s.Answered, s.Failed} {
		for i := range l {
			for j := i + 1; j < len(l); j++ {
				if l[j] < l[i] {
					l[i], l[j] = l[j], l[i]
				}
			}
		}
	}
}

func TestMoveLeader(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 20*time.Second)

	leader, _, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	to, err := c.PickTransferee(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	if to == leader || to == 0 {
		t.Fatalf("PickTransferee(%x) = %x", leader, to)
	}
	if err := c.MoveLeader(ctx, to); err != nil {
		t.Fatal(err)
	}
	// Every member's own status agrees on the new leader.
	oc := c.Observe(ctx)
	for _, m := range oc.Members {
		if m.Status == nil || m.Status.Leader != to {
			t.Errorf("%s sees leader %v, want %x (%s)", m.Name, m.Status, to, m.StatusError)
		}
	}
	// Moving to the leader itself is a no-op.
	if err := c.MoveLeader(ctx, to); err != nil {
		t.Errorf("MoveLeader to the current leader: %v", err)
	}
	if err := c.MoveLeader(ctx, 0xdead); !errors.Is(err, ErrMemberNotFound) {
		t.Errorf("MoveLeader to an unknown member: %v, want ErrMemberNotFound", err)
	}

	// Under NOSPACE every member's status lists the alarm among its
	// errors: no member is a transferee, unless the alarm is one the plan
	// clears (a quota raise restarts the leader before the disarm).
	mc := etcdserverpb.NewMaintenanceClient(c.Raw().ActiveConnection())
	if _, err := mc.Alarm(ctx, &etcdserverpb.AlarmRequest{Action: etcdserverpb.AlarmRequest_ACTIVATE, MemberID: to, Alarm: etcdserverpb.AlarmType_NOSPACE}); err != nil {
		t.Fatal(err)
	}
	var pickErr error
	for pickErr == nil && ctx.Err() == nil { // until every member applied the alarm
		_, pickErr = c.PickTransferee(ctx, to)
	}
	if !errors.Is(pickErr, ErrNoTransferee) {
		t.Errorf("PickTransferee under NOSPACE: %v, want ErrNoTransferee", pickErr)
	}
	if got, err := c.PickTransferee(ctx, to, "NOSPACE"); err != nil || got == to || got == 0 {
		t.Errorf("PickTransferee tolerating NOSPACE = %x, %v; want a follower", got, err)
	}
	if _, err := c.PickTransferee(ctx, to, "CORRUPT"); !errors.Is(err, ErrNoTransferee) {
		t.Errorf("PickTransferee tolerating only CORRUPT under NOSPACE: %v, want ErrNoTransferee", err)
	}
}

// Issue 20: MoveLeader sends nothing to the leader until the transferee
// has applied what the leader committed. A transferee that cannot catch up
// (here it is down) gets no transfer: the leader keeps leading instead of
// dropping every proposal while raft waits for it (up to an election
// timeout, then etcd gives up).
func TestMoveLeaderWaitsForCaughtUp(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 20*time.Second)
	leader, ms, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var down Member
	for _, m := range ms {
		if m.ID != leader {
			down = m
		}
	}
	if err := ec.Member(down.Name).Stop(); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = c.MoveLeader(mctx, down.ID)
	cancel()
	if !errors.Is(err, ErrNotCaughtUp) {
		t.Errorf("MoveLeader to a member that is down: %v, want ErrNotCaughtUp", err)
	}
	now, _, err := c.Leader(ctx)
	if err != nil || now != leader {
		t.Errorf("leader after the refused transfer: %x (%v), want %x unchanged", now, err, leader)
	}
	for _, m := range c.statuses(ctx, ms, true) {
		if m.Member.ID != down.ID && m.Status != nil && m.Status.RaftTerm != 0 && m.Status.Leader != leader {
			t.Errorf("%s sees leader %x, want %x", m.Member, m.Status.Leader, leader)
		}
	}
}

func TestGate(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())

	rep, err := c.Gate(deadline(t, 10*time.Second), GateOptions{MaxIndexLag: 100})
	if err != nil {
		t.Fatalf("gate on a healthy cluster: %v", err)
	}
	if !rep.Passed() || len(rep.Members) != 3 || rep.LeaderID == 0 {
		t.Fatalf("report: %+v", rep)
	}

	// A raised alarm fails the gate and shows in Observe.
	ctx := deadline(t, 20*time.Second)
	m1 := rep.Members[0].Member
	mc := etcdserverpb.NewMaintenanceClient(c.Raw().ActiveConnection())
	alarm := &etcdserverpb.AlarmRequest{Action: etcdserverpb.AlarmRequest_ACTIVATE, MemberID: m1.ID, Alarm: etcdserverpb.AlarmType_NOSPACE}
	if _, err := mc.Alarm(ctx, alarm); err != nil {
		t.Fatal(err)
	}
	_, err = c.Gate(ctx, GateOptions{})
	if want := "alarm NOSPACE raised on " + m1.String(); !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), want) {
		t.Errorf("gate with an alarm: %v, want it to say %q", err, want)
	}
	if oc := c.Observe(ctx); cmp.Diff([]state.Alarm{{MemberID: m1.ID, Type: "NOSPACE"}}, oc.Alarms) != "" {
		t.Errorf("Observe alarms: %+v", oc.Alarms)
	}
	alarm.Action = etcdserverpb.AlarmRequest_DEACTIVATE
	if _, err := mc.Alarm(ctx, alarm); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Gate(ctx, GateOptions{}); err != nil {
		t.Errorf("gate after disarming: %v", err)
	}

	// Stop a follower (a stopped leader would also leave others briefly
	// leaderless, which the gate rightly reports but this test does not
	// predict).
	var follower string
	for _, gm := range rep.Members {
		if gm.Member.ID != rep.LeaderID {
			follower = gm.Member.Name
		}
	}
	m2 := ec.Member(follower)
	if err := m2.Stop(); err != nil {
		t.Fatal(err)
	}
	rep, err = c.Gate(deadline(t, 10*time.Second), GateOptions{})
	if !errors.Is(err, ErrUnhealthy) || rep.Passed() {
		t.Fatalf("gate with m2 stopped: %v", err)
	}
	if !strings.Contains(err.Error(), follower) || !strings.Contains(err.Error(), "linearizable read failed") {
		t.Errorf("the error should name m2 and its failed check: %v", err)
	}
	for _, p := range rep.Problems {
		if !strings.Contains(p, follower) {
			t.Errorf("problem not about m2: %s", p)
		}
	}

	_, err = c.WaitHealthy(deadline(t, 1500*time.Millisecond), GateOptions{})
	if !errors.Is(err, ErrUnhealthy) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), follower) {
		t.Errorf("WaitHealthy with m2 stopped: %v", err)
	}

	if err := m2.Start(); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.WaitHealthy(deadline(t, 20*time.Second), GateOptions{}); err != nil {
		t.Fatalf("WaitHealthy after restarting m2: %v", err)
	} else if len(rep.Members) != 3 {
		t.Errorf("report: %v", rep)
	}
}

func TestLock(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	a := newClient(t, ec.Endpoints())
	b := newClient(t, ec.Endpoints())
	ctx := deadline(t, 20*time.Second)

	la, err := a.Lock(ctx, "prod", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := la.Check(ctx); err != nil {
		t.Fatalf("Check of a held lock: %v", err)
	}
	if !strings.HasPrefix(la.Key(), LockPrefix+"prod/") {
		t.Errorf("lock key %q", la.Key())
	}

	// A second apply waits, then times out naming the holder.
	start := time.Now()
	_, err = b.Lock(deadline(t, 500*time.Millisecond), "prod", 10*time.Second)
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second Lock: %v, want ErrLockTimeout", err)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("second Lock gave up after %s, before its deadline", el)
	}
	if !strings.Contains(err.Error(), la.Key()) || !strings.Contains(err.Error(), fmt.Sprintf("%x", la.Lease())) {
		t.Errorf("timeout error should name the holder's key and lease: %v", err)
	}
	// Another cluster's lock is independent.
	lo, err := b.Lock(deadline(t, 2*time.Second), "staging", 10*time.Second)
	if err != nil {
		t.Fatalf("lock of another cluster: %v", err)
	}
	defer lo.Close()

	if err := la.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := la.Check(ctx); !errors.Is(err, ErrLockLost) {
		t.Errorf("Check after Unlock: %v, want ErrLockLost", err)
	}
	lb, err := b.Lock(deadline(t, 5*time.Second), "prod", 10*time.Second)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if err := lb.Check(ctx); err != nil {
		t.Fatal(err)
	}

	// The lease revoked under the holder: Check must fail.
	if _, err := a.Raw().Revoke(ctx, lb.Lease()); err != nil {
		t.Fatal(err)
	}
	if err := lb.Check(ctx); !errors.Is(err, ErrLockLost) {
		t.Errorf("Check after the lease was revoked: %v, want ErrLockLost", err)
	}
	if err := lb.Close(); err != nil {
		t.Errorf("Close after revoke: %v", err)
	}
}

// setAlarm raises (on) or disarms an alarm of type typ on member id
// through etcd's API, as etcd itself raises it.
func setAlarm(t *testing.T, c *Client, id uint64, typ etcdserverpb.AlarmType, on bool) {
	t.Helper()
	act := etcdserverpb.AlarmRequest_DEACTIVATE
	if on {
		act = etcdserverpb.AlarmRequest_ACTIVATE
	}
	mc := etcdserverpb.NewMaintenanceClient(c.Raw().ActiveConnection())
	if _, err := mc.Alarm(deadline(t, 10*time.Second), &etcdserverpb.AlarmRequest{Action: act, MemberID: id, Alarm: typ}); err != nil {
		t.Fatalf("alarm %s %s on %x: %v", act, typ, id, err)
	}
}

// Issue 15 #3: the gate lets pass the alarms it is told to tolerate (the
// plan clears them) and still fails on any other alarm, and always on
// CORRUPT.
func TestGateToleratesAlarmsThePlanClears(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 20*time.Second)
	ms, _, err := c.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := ms[0], ms[1]
	setAlarm(t, c, m1.ID, etcdserverpb.AlarmType_NOSPACE, true)
	nospace := GateOptions{Tolerate: []string{"NOSPACE"}}
	rep, err := c.Gate(ctx, nospace)
	if err != nil {
		t.Fatalf("gate tolerating NOSPACE with NOSPACE raised: %v", err)
	}
	if want := []string{"NOSPACE on " + m1.String()}; !cmp.Equal(want, rep.Tolerated) || !strings.Contains(rep.String(), want[0]) {
		t.Errorf("report: tolerated %q (%s), want %q", rep.Tolerated, rep, want)
	}
	if _, err := c.Gate(ctx, GateOptions{}); !errors.Is(err, ErrUnhealthy) {
		t.Errorf("gate tolerating nothing with NOSPACE raised: %v, want ErrUnhealthy", err)
	}
	// CORRUPT stops the gate even when told to tolerate it.
	setAlarm(t, c, m2.ID, etcdserverpb.AlarmType_CORRUPT, true)
	_, err = c.Gate(ctx, GateOptions{Tolerate: []string{"NOSPACE", "CORRUPT"}})
	if want := "alarm CORRUPT raised on " + m2.String(); !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), want) {
		t.Errorf("gate with CORRUPT raised: %v, want it to say %q", err, want)
	} else if strings.Contains(err.Error(), "NOSPACE") {
		t.Errorf("gate with CORRUPT raised blames the tolerated NOSPACE: %v", err)
	}
}

// Issue 15 #3: under NOSPACE etcd grants no lease. Lock fails at once
// with ErrLockRefused naming the alarm and its member, not with a
// timeout that blames another apply.
func TestLockRefusedUnderNospace(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 20*time.Second)
	ms, _, err := c.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m1 := ms[0]
	setAlarm(t, c, m1.ID, etcdserverpb.AlarmType_NOSPACE, true)
	_, err = c.Lock(ctx, "prod", 10*time.Second)
	if !errors.Is(err, ErrLockRefused) || errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Lock under NOSPACE: %v, want ErrLockRefused", err)
	}
	t.Logf("Lock under NOSPACE: %v", err)
	for _, want := range []string{"database space exceeded", "NOSPACE alarm on " + m1.String(), "needs a lease"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Lock under NOSPACE: %v, want it to say %q", err, want)
		}
	}
	if ctx.Err() != nil {
		t.Errorf("Lock under NOSPACE waited for its deadline instead of failing at once")
	}
	if who, err := c.LockHolder(ctx, "prod"); err != nil || who != "" {
		t.Errorf("LockHolder of a free lock under NOSPACE: %q, %v; want \"\"", who, err)
	}

	// An apply that took the lock before the alarm keeps it: LockHolder
	// (a read) names it under NOSPACE.
	setAlarm(t, c, m1.ID, etcdserverpb.AlarmType_NOSPACE, false)
	held, err := c.Lock(ctx, "prod", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	setAlarm(t, c, m1.ID, etcdserverpb.AlarmType_NOSPACE, true)
	if who, err := c.LockHolder(ctx, "prod"); err != nil || !strings.Contains(who, held.Key()) {
		t.Errorf("LockHolder of a held lock under NOSPACE: %q, %v; want it to name %s", who, err, held.Key())
	}
}

// Issue 15 #3: a cluster filled past its quota raises NOSPACE for real.
// The gate that tolerates NOSPACE passes, and the pre-change snapshot is
// taken (and verified) from a follower while the alarm is raised.
func TestSnapshotAndGateUnderNospace(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3, etcdtest.WithArgs("--quota-backend-bytes=16777216"))
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 60*time.Second)
	val := strings.Repeat("x", 512<<10)
	for i := 0; ; i++ {
		_, err := c.Raw().Put(ctx, fmt.Sprintf("/fill/%04d", i), val)
		if errors.Is(err, rpctypes.ErrNoSpace) || isEtcdErr(err, rpctypes.ErrGRPCNoSpace) {
			break
		}
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if i > 200 {
			t.Fatal("100 MiB written under a 16 MiB quota and no NOSPACE")
		}
	}
	if oc := c.Observe(ctx); len(oc.Alarms) == 0 || oc.Alarms[0].Type != "NOSPACE" {
		t.Fatalf("alarms after filling: %+v", oc.Alarms)
	}
	if _, err := c.Gate(ctx, GateOptions{}); !errors.Is(err, ErrUnhealthy) {
		t.Errorf("gate under NOSPACE tolerating nothing: %v, want ErrUnhealthy", err)
	}
	if rep, err := c.Gate(ctx, GateOptions{Tolerate: []string{"NOSPACE"}}); err != nil {
		t.Errorf("gate under NOSPACE tolerating it: %v", err)
	} else if len(rep.Tolerated) == 0 {
		t.Errorf("report names no tolerated alarm: %s", rep)
	}
	leader, _, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	info, err := snapshotTo(ctx, c, path)
	if err != nil {
		t.Fatalf("snapshot under NOSPACE: %v", err)
	}
	if info.MemberID == leader || info.MemberID == 0 {
		t.Errorf("snapshot from member %x, want a follower (leader %x)", info.MemberID, leader)
	}
	if err := VerifySnapshot(path); err != nil {
		t.Error(err)
	}
}

// snapshotTo writes a snapshot from the member Snapshot picks to path.
func snapshotTo(ctx context.Context, c *Client, path string) (SnapshotInfo, error) {
	f, err := os.Create(path)
	if err != nil {
		return SnapshotInfo{}, err
	}
	info, err := c.Snapshot(ctx, "", f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return info, err
}

func TestSnapshot(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 20*time.Second)
	for i := range 100 {
		if _, err := c.Raw().Put(ctx, fmt.Sprintf("/k/%03d", i), strings.Repeat("v", 100)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "snap.db")
	info, err := snapshotTo(ctx, c, path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if info.Size != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) || info.Revision < 100 || info.MemberID == 0 {
		t.Errorf("info %+v for a %d-byte file", info, len(data))
	}
	// From a named endpoint too.
	var buf bytes.Buffer
	if _, err := c.Snapshot(ctx, ec.Member("m2").ClientURL, &buf); err != nil {
		t.Errorf("snapshot from m2: %v", err)
	}

	flip := func(off int) []byte {
		b := bytes.Clone(data)
		b[off] ^= 0x01
		return b
	}
	tests := map[string]struct {
		data []byte
		want error
	}{
		"intact":                {data: data},
		"truncated by one byte": {data: data[:len(data)-1], want: ErrSnapshotNoHash},
		"truncated to pages":    {data: data[:len(data)-32], want: ErrSnapshotNoHash},
		"truncated page-wise":   {data: append(bytes.Clone(data[:len(data)-32-4096]), data[len(data)-32:]...), want: ErrSnapshotHash},
		"byte flipped mid-file": {data: flip(len(data) / 2), want: ErrSnapshotHash},
		"trailer flipped":       {data: flip(len(data) - 1), want: ErrSnapshotHash},
		"empty":                 {data: nil, want: ErrSnapshotNoHash},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "copy.db")
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			err := VerifySnapshot(p)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("VerifySnapshot = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHashKV(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 20*time.Second)
	for i := range 50 {
		if _, err := c.Raw().Put(ctx, fmt.Sprintf("/h/%d", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	// Issue 20: one member at a time (a member hashing stops applying
	// writes); the hook sees each request begin and end before the next.
	var seen []string
	c.o.onHashKV = func(m string, start bool) { seen = append(seen, fmt.Sprintf("%s %v", m, start)) }
	hashes, rev, err := c.HashKVAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.o.onHashKV = nil
	if len(seen) != 6 {
		t.Errorf("HashKV requests %v, want 3 begun and ended", seen)
	}
	for i := 0; i+1 < len(seen); i += 2 {
		m, _, _ := strings.Cut(seen[i], " ")
		if seen[i] != m+" true" || seen[i+1] != m+" false" {
			t.Errorf("HashKV requests overlap: %v", seen)
			break
		}
	}
	if len(hashes) != 3 || rev < 51 {
		t.Fatalf("hashes %v at revision %d", hashes, rev)
	}
	var first uint32
	for _, h := range hashes {
		if first == 0 {
			first = h
		}
		if h != first {
			t.Errorf("hashes differ: %v", hashes)
		}
	}
	if err := c.CheckConsistent(ctx); err != nil {
		t.Error(err)
	}
	// MemberHashes: the same hashes, each with its member and the
	// compaction revision it hashed from.
	mrev, mh, err := c.MemberHashes(ctx)
	if err != nil || len(mh) != 3 || mrev < rev {
		t.Fatalf("MemberHashes: %v at %d, %v", mh, mrev, err)
	}
	for _, h := range mh {
		if h.Err != nil || h.Name == "" || h.Hash != mh[0].Hash || h.CompactRevision != mh[0].CompactRevision {
			t.Errorf("MemberHashes: %+v", mh)
		}
	}

	if err := c.PutAudit(ctx, "/elsewhere", []byte("x")); !errors.Is(err, ErrAuditKey) {
		t.Errorf("PutAudit outside the prefix: %v", err)
	}
	key := AuditPrefix + "prod/20260101T000000Z"
	if err := c.PutAudit(ctx, key, []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Raw().Get(ctx, key); err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != `{"ok":true}` {
		t.Errorf("audit record read back: %v %v", resp, err)
	}
}

// TestWaitLearnerSilent (issue 16): a learner in the state etcd leaves a
// new member in when it loses the wait for its first publish is reported
// silent (ErrLearnerSilent) within about a second; a hung learner is not.
func TestWaitLearnerSilent(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	ctx := deadline(t, 60*time.Second)
	j := ec.NewJoiner("m4")
	id, members, err := c.AddLearner(ctx, j.PeerURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Join(initialCluster(members, id, j.Name)); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitLearnerCaughtUp(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	// A learner in the state etcd leaves a member in when it loses the wait
	// for its first publish (its status unanswered, while it runs, answers
	// its peers and its own view shows it published) is reported silent,
	// not waited for until ctx ends. The status probe is the hook's; the
	// member list and the learner's own view are the real ones.
	c.o.learnerStatus = func(ctx context.Context, m Member) error {
		<-ctx.Done()
		return ctx.Err()
	}
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = c.WaitLearnerCaughtUp(sctx, id, true)
	cancel()
	if !errors.Is(err, ErrLearnerSilent) {
		t.Fatalf("WaitLearnerCaughtUp of a learner that lost its publish's wait: %v, want ErrLearnerSilent", err)
	}
	// For a learner that did not join in this run (it may show an old
	// publish while it catches up), the silence is not asked for: the
	// strict check alone decides (and passes: the learner is caught up).
	sctx, cancel = context.WithTimeout(ctx, 15*time.Second)
	err = c.WaitLearnerCaughtUp(sctx, id, false)
	cancel()
	if err != nil {
		t.Fatalf("WaitLearnerCaughtUp of a caught-up learner not new, the silence probe timing out: %v, want nil", err)
	}
	// A status refused rather than unanswered is not the lost wait.
	c.o.learnerStatus = func(ctx context.Context, m Member) error { return errors.New("connection refused") }
	sctx, cancel = context.WithTimeout(ctx, 3*time.Second)
	err = c.WaitLearnerCaughtUp(sctx, id, true)
	cancel()
	c.o.learnerStatus = nil
	if !errors.Is(err, ErrNotCaughtUp) || errors.Is(err, ErrLearnerSilent) {
		t.Fatalf("WaitLearnerCaughtUp of a learner whose status is refused: %v, want ErrNotCaughtUp", err)
	}
	// A learner that is hung (paused: its ports accept connections and
	// nothing answers, its peer port included) is not silent: it is
	// waited for, and not promoted.
	if err := j.Pause(); err != nil {
		t.Fatal(err)
	}
	sctx, cancel = context.WithTimeout(ctx, 3*time.Second)
	err = c.WaitLearnerCaughtUp(sctx, id, true)
	cancel()
	if err := j.Resume(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, ErrNotCaughtUp) || errors.Is(err, ErrLearnerSilent) {
		t.Fatalf("WaitLearnerCaughtUp of a hung learner: %v, want ErrNotCaughtUp", err)
	}
	if err := c.WaitLearnerCaughtUp(ctx, id, true); err != nil {
		t.Fatalf("WaitLearnerCaughtUp after the learner resumed: %v", err)
	}
}

// initialCluster is the initial-cluster of a member joining as id under
// name, from the member list that adding it returned.
func initialCluster(members []Member, id uint64, name string) string {
	var initial []string
	for _, m := range members {
		n := m.Name
		if m.ID == id {
			n = name
		}
		initial = append(initial, n+"="+m.PeerURLs[0])
	}
	return strings.Join(initial, ",")
}

func TestAddPromoteRemove(t *testing.T) {
	ec := etcdtest.NewCluster(t, 3)
	c := newClient(t, ec.Endpoints())
	var mu sync.Mutex
	retried := map[string][]string{}
	c.o.onRetry = func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		retried[what] = append(retried[what], err.Error())
	}
	ctx := deadline(t, 40*time.Second)

	j := ec.NewJoiner("m4")
	id, members, err := c.AddLearner(ctx, j.PeerURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.ID == id && !m.IsLearner {
			t.Errorf("the added member is not a learner: %+v", m)
		}
	}
	if len(members) != 4 {
		t.Fatalf("members after AddLearner: %+v", members)
	}
	// A learner that has not started cannot lead.
	if err := c.MoveLeader(ctx, id); !errors.Is(err, ErrLearnerTarget) {
		t.Errorf("MoveLeader to a learner: %v, want ErrLearnerTarget", err)
	}
	if err := j.Join(initialCluster(members, id, j.Name)); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitLearnerCaughtUp(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	// Promote right after the learner started: etcd may refuse with
	// "not in sync" or "unhealthy cluster"; Promote retries.
	if err := c.Promote(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitHealthy(ctx, GateOptions{}); err != nil {
		t.Fatal(err)
	}
	oc := c.Observe(ctx)
	if oc.Voters() != 4 || oc.Member("m4") == nil || oc.Member("m4").Status == nil {
		t.Fatalf("after promote: %d voters, m4 %+v", oc.Voters(), oc.Member("m4"))
	}
	// WaitLearnerCaughtUp on a voter returns at once.
	if err := c.WaitLearnerCaughtUp(ctx, id, true); err != nil {
		t.Errorf("WaitLearnerCaughtUp on a voter: %v", err)
	}

	// Remove a member right after a (re)start of another: retried, not
	// failed.
	m1 := ec.Member("m1")
	if err := m1.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m1.Start(); err != nil {
		t.Fatal(err)
	}
	if err := m1.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	t.Logf("retried refusals: %q", retried)
	if r := retried["removing member "+hexID(id)]; len(r) == 0 || !isEtcdErr(errors.New(r[0]), rpctypes.ErrGRPCUnhealthy, rpctypes.ErrGRPCMemberNotEnoughStarted) {
		t.Errorf("Remove right after m1 restarted should have been refused by etcd and retried; retries: %q", r)
	}
	mu.Unlock()
	if _, err := c.WaitHealthy(ctx, GateOptions{}); err != nil {
		t.Fatal(err)
	}
	ms, _, err := c.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findMember(ms, id); ok || len(ms) != 3 {
		t.Errorf("after Remove: %+v", ms)
	}
	if err := c.CheckConsistent(ctx); err != nil {
		t.Error(err)
	}
}

// TestRetryClassification checks which etcd refusals are retried.
func TestRetryClassification(t *testing.T) {
	tests := map[string]struct {
		err  error
		want bool
	}{
		"unhealthy (5s after a start)": {err: rpctypesErr("etcdserver: unhealthy cluster"), want: true},
		"learner not in sync":          {err: rpctypesErr("etcdserver: can only promote a learner member which is in sync with leader"), want: true},
		"not enough started":           {err: rpctypesErr("etcdserver: re-configuration failed due to not enough started members"), want: true},
		"peer URL exists":              {err: rpctypesErr("etcdserver: Peer URLs already exists"), want: false},
		"member not found":             {err: rpctypesErr("etcdserver: member not found"), want: false},
		"too many learners":            {err: rpctypesErr("etcdserver: too many learner members in cluster"), want: false},
		"nil":                          {err: nil, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := isEtcdErr(tc.err, retriable...); got != tc.want {
				t.Errorf("retriable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func rpctypesErr(desc string) error { return errors.New(desc) }

func TestRetryUntilDeadline(t *testing.T) {
	c := &Client{o: options{pollInterval: 10 * time.Millisecond}}
	ctx := deadline(t, 300*time.Millisecond)
	n := 0
	err := c.retry(ctx, "promoting member 1", func(context.Context, bool) error {
		n++
		return errors.New("etcdserver: can only promote a learner member which is in sync with leader")
	})
	if !errors.Is(err, context.DeadlineExceeded) || n < 2 || !strings.Contains(err.Error(), "in sync with leader") {
		t.Errorf("retry: %v after %d attempts", err, n)
	}
	n = 0
	err = c.retry(deadline(t, time.Second), "x", func(context.Context, bool) error {
		n++
		if n < 3 {
			return errors.New("etcdserver: unhealthy cluster")
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("retry then success: %v after %d attempts", err, n)
	}
}
