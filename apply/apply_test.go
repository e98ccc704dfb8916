package apply

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Unit tests with fakes: they pin the executor's control flow. The e2e
// tests in internal/e2e run the same code against real etcd and sshd.

type fakeWorld struct {
	mu     sync.Mutex // host locks are taken in parallel
	calls  []string
	leader uint64
	failOn string // a call that fails
	// failNth fails only the nth call (from 1) of a name.
	failNth map[string]int
	// onTransferee runs at each Transferee call (a slow leadership check).
	onTransferee func()
	lockErr      error
	checkErr     error
	// learnerErr is what WaitLearnerCaughtUp returns.
	learnerErr error
	obs        *state.Observed
	// cancelOn is a call during which the apply is interrupted: cancel
	// runs with the cause a signal gives, and the call fails as I/O on a
	// cancelled context does.
	cancelOn string
	cancel   context.CancelCauseFunc
	ops      []op // typed host operations, in order
	// tolerate is the last TolerateAlarms call's argument, and gates
	// each gate call with the alarms it tolerated ("gate [NOSPACE]").
	tolerate []string
	gates    []string
	// noSpace: the in-cluster lock is refused (ErrLockNoLease) until a
	// disarm; hostHeld: hosts whose lock another apply holds.
	noSpace  bool
	hostHeld map[string]bool
	// conns is each host's count of client connections, one per call
	// (the last repeats); none is 0.
	conns map[string][]int
	// dbs is what DBSizes reports; defragBudget the time the last
	// Defragment call had.
	dbs          []MemberDB
	defragBudget time.Duration
	// live is the live member list Members reports (nil: obs's).
	live []LiveMember
	// hashes are MemberHashes' answers, one per call (the last
	// repeats); none: every member of obs agrees.
	hashes [][]MemberHash
	// server is the version every member reports in Versions ("3.6.16"
	// when ""), and downgraded the members that run downgradeTo after
	// their restart; storage is set by a downgrade enable.
	server      string
	downgradeTo string
	storage     string
	downgraded  map[string]bool
	// noStorage: members whose storage version never follows an enable.
	noStorage bool
	// refuse is a downgrade request etcd refuses ("downgrade enable 3.5").
	refuse string
	// onStage, when set, runs at the start of every StageFiles call,
	// from the call's goroutine.
	onStage func(ctx context.Context) error
}

type fakeEtcd struct{ w *fakeWorld }
type fakeLock struct{ w *fakeWorld }
type fakeHost struct {
	w    *fakeWorld
	name string
}
type fakeConn struct{ w *fakeWorld }

func (w *fakeWorld) call(s string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, s)
	if name, ok := strings.CutPrefix(s, "restart "); ok && w.downgradeTo != "" && w.failOn != s {
		if w.downgraded == nil {
			w.downgraded = map[string]bool{}
		}
		w.downgraded[name] = true
	}
	if w.cancelOn == s {
		w.cancel(errors.New("interrupt signal received"))
		return context.Canceled
	}
	if w.failOn == s {
		return errors.New("injected failure")
	}
	if n, ok := w.failNth[s]; ok && n == countOf(w.calls, s) {
		return errors.New("injected failure")
	}
	return nil
}

func countOf(calls []string, s string) (n int) {
	for _, c := range calls {
		if c == s {
			n++
		}
	}
	return n
}

func (e fakeEtcd) Lock(ctx context.Context, cluster string) (Lock, error) {
	if e.w.lockErr != nil {
		return nil, e.w.lockErr
	}
	e.w.mu.Lock() // the host locks of a plan made under NOSPACE are taken meanwhile
	if e.w.noSpace && !slices.ContainsFunc(e.w.calls, func(c string) bool { return strings.HasPrefix(c, "disarm ") }) {
		e.w.calls = append(e.w.calls, "lock refused: no lease")
		e.w.mu.Unlock()
		return nil, fmt.Errorf("%w: database space exceeded", ErrLockNoLease)
	}
	e.w.mu.Unlock()
	return fakeLock(e), e.w.call("lock")
}
func (e fakeEtcd) Leader(ctx context.Context) (uint64, error) { return e.w.leader, nil }
func (e fakeEtcd) Transferee(ctx context.Context, id uint64) (uint64, error) {
	if e.w.onTransferee != nil {
		e.w.onTransferee()
	}
	if id == e.w.leader {
		return 99, nil
	}
	return 0, nil
}
func (e fakeEtcd) MoveLeader(ctx context.Context, to uint64) error {
	from := e.w.leader
	e.w.leader = to
	return e.w.call(fmt.Sprintf("move-leader-from %d", from))
}
func (e fakeEtcd) AddLearner(ctx context.Context, u string) (uint64, []LiveMember, error) {
	return 7, []LiveMember{{ID: 1, Name: "a", PeerURL: "http://a:2380"}, {ID: 7, PeerURL: u}}, e.w.call("add-learner " + u)
}
func (e fakeEtcd) Members(ctx context.Context) ([]LiveMember, error) {
	if e.w.live != nil {
		return e.w.live, nil
	}
	var out []LiveMember
	for _, m := range e.w.obs.Clusters["lab"].Members {
		out = append(out, LiveMember{ID: m.ID, Name: m.Name, IsLearner: m.IsLearner})
	}
	return out, nil
}
func (e fakeEtcd) Promote(ctx context.Context, id uint64) error {
	return e.w.call(fmt.Sprintf("promote %d", id))
}
func (e fakeEtcd) Remove(ctx context.Context, id uint64) error {
	return e.w.call(fmt.Sprintf("remove %d", id))
}
func (e fakeEtcd) MemberID(ctx context.Context, name, peer string) (uint64, error) {
	return map[string]uint64{"a": 1, "b": 2, "c": 3}[name], nil
}
func (e fakeEtcd) ClientURLs(ctx context.Context, id uint64) ([]string, error) {
	return []string{"http://h:2379", "http://h2:2379"}, nil
}
func (e fakeEtcd) WaitHealthy(ctx context.Context, except uint64) error {
	name := "gate"
	if except != 0 {
		name = fmt.Sprintf("pregate-except %d", except)
	}
	e.w.gates = append(e.w.gates, fmt.Sprintf("%s %v", name, e.w.tolerate))
	if except != 0 {
		return e.w.call(fmt.Sprintf("pregate-except %d", except))
	}
	return e.w.call("gate")
}
func (e fakeEtcd) TolerateAlarms(types []string) { e.w.tolerate = types }
func (e fakeEtcd) WaitLearnerCaughtUp(ctx context.Context, id uint64, newMember bool) error {
	call := fmt.Sprintf("wait-learner %d", id)
	if newMember {
		call += " new"
	}
	if err := e.w.call(call); err != nil {
		return err
	}
	return e.w.learnerErr
}
func (e fakeEtcd) MemberVersion(ctx context.Context, id uint64) (string, error) {
	return "3.6.16", e.w.call(fmt.Sprintf("member-version %d", id))
}
func (e fakeEtcd) Versions(ctx context.Context) (ClusterVersions, error) {
	ms, _ := e.Members(ctx)
	server := e.w.server
	if server == "" {
		server = "3.6.16"
	}
	storage, cluster := "3.6.0", "3.6.0"
	if e.w.storage != "" {
		cluster = e.w.storage
		if !e.w.noStorage {
			storage = e.w.storage
		}
	}
	out := ClusterVersions{Cluster: cluster}
	for _, m := range ms {
		v := MemberVersions{ID: m.ID, Name: m.Name, IsLearner: m.IsLearner, Server: server, Storage: storage}
		if e.w.downgraded[m.Name] {
			v.Server, v.Storage = e.w.downgradeTo, ""
		}
		out.Members = append(out.Members, v)
	}
	return out, e.w.call("versions")
}
func (e fakeEtcd) Downgrade(ctx context.Context, op DowngradeOp, target string) error {
	if err := e.w.call(op.String() + " " + target); err != nil {
		return err
	}
	if e.w.refuse == op.String()+" "+target {
		return fmt.Errorf("%w: etcdserver: cluster has a downgrade job in progress", ErrDowngradeRefused)
	}
	switch op {
	case DowngradeEnable:
		e.w.storage = target + ".0"
	case DowngradeCancel:
		e.w.storage = ""
	}
	return nil
}
func (e fakeEtcd) Snapshot(ctx context.Context, w io.Writer) (int64, string, error) {
	n, _ := w.Write([]byte("snap"))
	return int64(n), "x", e.w.call("snapshot")
}
func (e fakeEtcd) CheckConsistent(ctx context.Context) error { return e.w.call("hashkv") }
func (e fakeEtcd) MemberHashes(ctx context.Context) (int64, []MemberHash, error) {
	if err := e.w.call("hashkv-before"); err != nil {
		return 0, nil, err
	}
	if len(e.w.hashes) == 0 {
		var out []MemberHash
		for _, m := range e.w.obs.Clusters["lab"].Members {
			out = append(out, MemberHash{ID: m.ID, Name: m.Name, Hash: 0xabcd, CompactRevision: 5})
		}
		return 100, out, nil
	}
	hs := e.w.hashes[0]
	if len(e.w.hashes) > 1 {
		e.w.hashes = e.w.hashes[1:]
	}
	return 100, hs, nil
}
func (e fakeEtcd) PutAudit(ctx context.Context, k string, v []byte) error {
	return e.w.call("put-audit")
}
func (e fakeEtcd) AuditRecords(ctx context.Context, cluster string) ([]AuditKV, error) {
	return nil, nil
}
func (e fakeEtcd) DeleteAudit(ctx context.Context, keys ...string) error { return nil }
func (e fakeEtcd) Close() error                                          { return nil }

func (l fakeLock) Check(ctx context.Context) error {
	if l.w.checkErr != nil {
		return l.w.checkErr
	}
	return nil
}
func (l fakeLock) Unlock(ctx context.Context) error { return l.w.call("unlock") }

// op is one typed host operation as the fake host records it.
type op struct {
	Host      string
	Op        string
	Preflight *Preflight      `json:",omitempty"`
	From      string          `json:",omitempty"`
	Aside     string          `json:",omitempty"`
	Files     []File          `json:",omitempty"`
	Job       *Job            `json:",omitempty"`
	Run       *JobRun         `json:",omitempty"`
	Service   *ServiceInstall `json:",omitempty"`
}

// do records o and makes the call "OP HOST" in the call sequence.
func (h fakeHost) do(o op) error {
	o.Host = h.name
	for i, f := range o.Files {
		o.Files[i].Data = append([]byte(nil), f.Data...)
	}
	h.w.mu.Lock()
	h.w.ops = append(h.w.ops, o)
	h.w.mu.Unlock()
	return h.w.call(o.Op + " " + h.name)
}

func (h fakeHost) Preflight(ctx context.Context, p Preflight) error {
	return h.do(op{Op: "preflight", Preflight: &p})
}
func (h fakeHost) MoveAside(ctx context.Context, from, aside string) error {
	return h.do(op{Op: "move-aside", From: from, Aside: aside})
}
func (h fakeHost) InstallFiles(ctx context.Context, fs []File) error {
	return h.do(op{Op: "install-files", Files: append([]File(nil), fs...)})
}
func (h fakeHost) StageFiles(ctx context.Context, fs []File) ([]Staged, error) {
	if h.w.onStage != nil {
		if err := h.w.onStage(ctx); err != nil {
			return nil, err
		}
	}
	var out []Staged
	for _, f := range fs {
		sum := sha256.Sum256(f.Data)
		out = append(out, Staged{Path: f.Path, SHA256: hex.EncodeToString(sum[:]), Stamp: "staged on " + h.name})
	}
	return out, h.do(op{Op: "stage-files", Files: append([]File(nil), fs...)})
}
func (h fakeHost) SwapStaged(ctx context.Context, fs []Staged) error {
	var stamps []string
	for _, f := range fs {
		stamps = append(stamps, f.Stamp)
	}
	return h.do(op{Op: "swap-staged", From: strings.Join(stamps, ",")})
}
func (h fakeHost) InstallJob(ctx context.Context, j Job) error {
	return h.do(op{Op: "install-job", Job: &j})
}
func (h fakeHost) RunJob(ctx context.Context, r JobRun) error {
	return h.do(op{Op: "run-job", Run: &r})
}
func (h fakeHost) InstallService(ctx context.Context, s ServiceInstall) error {
	return h.do(op{Op: "install-service", Service: &s})
}
func (h fakeHost) Launch(ctx context.Context) error { return h.do(op{Op: "launch"}) }
func (h fakeHost) Restore(ctx context.Context, r Restore) error {
	if r.Snapshot != nil {
		b, err := io.ReadAll(r.Snapshot)
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != r.SnapshotSHA256 {
			return fmt.Errorf("fake %s: the snapshot streamed does not have sha256 %s", h.name, r.SnapshotSHA256)
		}
	}
	return h.do(op{Op: "restore", From: r.From, Aside: r.Token})
}
func (h fakeHost) CheckV2Store(ctx context.Context, etcdutl, dataDir string) error {
	return h.do(op{Op: "check-v2store", From: etcdutl, Aside: dataDir})
}
func (h fakeHost) Start(ctx context.Context) error   { return h.do(op{Op: "start"}) }
func (h fakeHost) Stop(ctx context.Context) error    { return h.do(op{Op: "stop"}) }
func (h fakeHost) Restart(ctx context.Context) error { return h.do(op{Op: "restart"}) }
func (h fakeHost) Disable(ctx context.Context) error { return h.do(op{Op: "disable"}) }
func (h fakeHost) Enable(ctx context.Context) error  { return h.do(op{Op: "enable"}) }
func (h fakeHost) Status(ctx context.Context) (string, error) {
	return "running", h.do(op{Op: "status"})
}
func (h fakeHost) ClientConnections(ctx context.Context, ports []int) (int, error) {
	c := h.w.conns[h.name]
	if len(c) == 0 {
		return 0, nil
	}
	n := c[0]
	if len(c) > 1 {
		h.w.conns[h.name] = c[1:]
	}
	return n, h.w.call(fmt.Sprintf("conns %s %v = %d", h.name, ports, n))
}
func (h fakeHost) Close() error { return nil }
func (h fakeHost) Lock(ctx context.Context, owner string) (Lock, error) {
	if err := h.do(op{Op: "host-lock"}); err != nil {
		return nil, err
	}
	if h.w.hostHeld[h.name] {
		return nil, fmt.Errorf("%w: %s is held by the other apply", ErrLockHeld, h.name)
	}
	return fakeHostLock(h), nil
}

type fakeHostLock fakeHost

func (l fakeHostLock) Check(ctx context.Context) error  { return nil }
func (l fakeHostLock) Unlock(ctx context.Context) error { return l.w.call("host-unlock " + l.name) }

func (c fakeConn) Etcd(ctx context.Context, cl plan.ClusterTarget) (Etcd, error) {
	return fakeEtcd(c), nil
}
func (c fakeConn) Host(ctx context.Context, t plan.Target) (Host, error) {
	return fakeHost{c.w, t.Host.Host}, nil
}
func (c fakeConn) Observe(ctx context.Context, cluster string) (*state.Observed, error) {
	return c.w.obs, nil
}
func (c fakeConn) Warm(context.Context, string, []plan.Target) func() { return func() {} }

func testConfig() *schema.Config {
	c := &schema.Cluster{Name: "lab", EtcdVersion: "3.6.16", Service: schema.Service{ConfigFile: "/etc/etcd/etcd.conf.yml", DataDir: "/var/lib/etcd", Binary: "/usr/local/bin/etcd"}}
	for _, n := range []string{"a", "b", "c", "d"} {
		c.Members = append(c.Members, &schema.Member{Name: n, Host: n, PeerURL: "http://" + n + ":2380", ClientURL: "http://" + n + ":2379"})
	}
	return &schema.Config{Clusters: []*schema.Cluster{c}, Hash: "h"}
}

func testObserved(hash string) *state.Observed {
	return &state.Observed{Clusters: map[string]*state.Cluster{"lab": {
		Name: "lab", ClusterID: 42, Reachable: true,
		Members: []state.Member{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}, {ID: 3, Name: "c"}},
		Hosts:   map[string]*state.Host{"a": {Reachable: true, ConfigHash: hash}},
	}}}
}

func rollingPlan(obs *state.Observed) *plan.Plan {
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(obs)}
	p.Steps = []plan.Step{{Action: plan.Snapshot, Cluster: "lab"}}
	for _, m := range []struct {
		n  string
		id uint64
	}{{"b", 2}, {"c", 3}, {"a", 1}} {
		p.Steps = append(p.Steps,
			plan.Step{Action: plan.WriteConfig, Cluster: "lab", Member: m.n, MemberID: m.id, Config: []byte("x")},
			plan.Step{Action: plan.Restart, Cluster: "lab", Member: m.n, MemberID: m.id})
	}
	return p
}

func TestRun(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate    func(w *fakeWorld, p *plan.Plan)
		wantCalls []string
		wantErr   string
		wantOut   []string // outcome per step
	}{
		"rolling restart, leader moved first": {
			mutate: func(w *fakeWorld, p *plan.Plan) {},
			wantCalls: []string{"lock", "hashkv-before", "snapshot", "install-files b", "pregate-except 2", "restart b", "gate", "install-files c", "pregate-except 3", "restart c", "gate",
				"install-files a", "pregate-except 1", "move-leader-from 1", "pregate-except 1", "restart a", "gate", "hashkv", "put-audit", "unlock"},
			wantOut: []string{"done", "done", "done", "done", "done", "done", "done"},
		},
		"stops at the first failure": {
			mutate:    func(w *fakeWorld, p *plan.Plan) { w.failOn = "restart c" },
			wantCalls: []string{"lock", "hashkv-before", "snapshot", "install-files b", "pregate-except 2", "restart b", "gate", "install-files c", "pregate-except 3", "restart c", "put-audit", "unlock"},
			wantErr:   "step 5/7 (restart c) failed; no further steps were started",
			wantOut:   []string{"done", "done", "done", "done", "failed", "not started", "not started"},
		},
		"failed gate stops": {
			mutate:    func(w *fakeWorld, p *plan.Plan) { w.failOn = "gate" },
			wantCalls: []string{"lock", "hashkv-before", "snapshot", "install-files b", "pregate-except 2", "restart b", "gate", "put-audit", "unlock"},
			wantErr:   "health gate after the step did not pass",
			wantOut:   []string{"done", "done", "failed", "not started", "not started", "not started", "not started"},
		},
		"a member that failed since the last gate stops the apply before the next restart": {
			mutate:    func(w *fakeWorld, p *plan.Plan) { w.failOn = "pregate-except 3" },
			wantCalls: []string{"lock", "hashkv-before", "snapshot", "install-files b", "pregate-except 2", "restart b", "gate", "install-files c", "pregate-except 3", "put-audit", "unlock"},
			wantErr:   "the cluster was not healthy before the step, so it was not started",
			wantOut:   []string{"done", "done", "done", "done", "failed", "not started", "not started"},
		},
		"stale plan refused before any step": {
			mutate:    func(w *fakeWorld, p *plan.Plan) { w.obs = testObserved("changed-by-hand") },
			wantCalls: []string{"lock", "put-audit", "unlock"},
			wantErr:   "run plan again",
			wantOut:   []string{"not started", "not started", "not started", "not started", "not started", "not started", "not started"},
		},
		"lock held elsewhere": {
			mutate:    func(w *fakeWorld, p *plan.Plan) { w.lockErr = fmt.Errorf("%w: held by ci-42", ErrLockHeld) },
			wantCalls: nil,
			wantErr:   "could not take the apply lock within 1m0s: another apply holds the lock: held by ci-42",
			wantOut:   []string{"not started", "not started", "not started", "not started", "not started", "not started", "not started"},
		},
		"lost lock stops": {
			mutate:    func(w *fakeWorld, p *plan.Plan) { w.checkErr = errors.New("lease expired") },
			wantCalls: []string{"lock", "put-audit", "unlock"},
			wantErr:   "lost the apply lock before step 1",
			wantOut:   []string{"not started", "not started", "not started", "not started", "not started", "not started", "not started"},
		},
		"refusals block everything": {
			mutate: func(w *fakeWorld, p *plan.Plan) {
				p.Refusals = []plan.Warning{{Cluster: "lab", Summary: "Fault tolerance budget exceeded", Detail: "x"}}
			},
			wantCalls: nil,
			wantErr:   "Fault tolerance budget exceeded",
			wantOut:   []string{"not started", "not started", "not started", "not started", "not started", "not started", "not started"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{leader: 1, obs: testObserved("h1")}
			p := rollingPlan(testObserved("h1"))
			tc.mutate(w, p)
			var audit bytes.Buffer
			res, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{
				SnapshotDir: t.TempDir(), Audit: NewAudit(&audit, "planhash", "abc", "me"),
				Now: func() time.Time { return time.Unix(0, 0) },
			})
			checkRun(t, err, tc.wantErr, tc.wantCalls, w.calls)
			var outs []string
			for _, s := range res.Steps {
				outs = append(outs, s.Outcome)
			}
			if diff := cmp.Diff(tc.wantOut, outs); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			// Every audit line is JSON and the last one says how it ended.
			lines := strings.Split(strings.TrimSpace(audit.String()), "\n")
			var last AuditEntry
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
				t.Fatalf("audit line: %v", err)
			}
			if last.Kind != "apply-end" || (err == nil) != (last.Outcome == "success") {
				t.Errorf("last audit entry %+v for err=%v", last, err)
			}
		})
	}
}

// Issue 15 #3: the health gates before a disarm-alarm step let its alarm
// pass (the plan is clearing it); the gate after it, and every later one,
// do not: they check the disarm took.
func TestRunToleratesTheAlarmsThePlanClears(t *testing.T) {
	obs := testObserved("h1")
	p := nospacePlan(obs)
	w := &fakeWorld{leader: 1, obs: obs}
	if _, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{SnapshotDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	// The gate after a step answers for the gate before the next one when
	// nothing ran between them: it asked every member, tolerating the
	// alarms the next step or a later one clears.
	want := []string{
		"gate [NOSPACE]",      // after compact, and before defrag b
		"gate [NOSPACE]",      // after defrag b, and before defrag c
		"gate [NOSPACE]",      // after defrag c
		"gate []",             // after disarm-alarm: the alarm must be gone
		"pregate-except 2 []", // before restart b (write-config has no gate)
		"gate []",             // after restart b
	}
	if diff := cmp.Diff(want, w.gates); diff != "" {
		t.Errorf("gates and the alarms they tolerated (-want +got):\n%s", diff)
	}
}

// nospacePlan is the guide's NOSPACE recovery, then a config change.
func nospacePlan(obs *state.Observed) *plan.Plan {
	p := rollingPlan(obs)
	p.Steps = append([]plan.Step{
		{Action: plan.Compact, Cluster: "lab", Revision: 4711},
		{Action: plan.Defrag, Cluster: "lab", Member: "b", MemberID: 2},
		{Action: plan.Defrag, Cluster: "lab", Member: "c", MemberID: 3},
		{Action: plan.DisarmAlarm, Cluster: "lab", Member: "b", MemberID: 2, Alarm: "NOSPACE", Quota: 160 << 20},
	}, p.Steps[1:3]...) // then write-config b, restart b
	return p
}

// Issue 15 #3: under NOSPACE the cluster grants no lease; apply takes the
// host locks of a majority instead, adds the in-cluster lock once the
// disarm makes the cluster writable, and releases both at the end. When
// another apply holds host locks, it is refused and changes nothing.
func TestRunUnderNospaceLocksHosts(t *testing.T) {
	obs := testObserved("h1")
	w := &fakeWorld{leader: 1, obs: obs, noSpace: true}
	var audit bytes.Buffer
	if _, err := Run(context.Background(), withTargets(testConfig(), nospacePlan(obs)), fakeConn{w}, Options{SnapshotDir: t.TempDir(), Audit: NewAudit(&audit, "planhash", "abc", "me")}); err != nil {
		t.Fatal(err)
	}
	want := []string{"lock refused: no lease", "host-lock b", "host-lock c", "compact 4711", "gate",
		"db-sizes", "defrag 2", "gate", "db-sizes", "defrag 3", "gate", "db-sizes", "disarm 2 NOSPACE", "gate", "lock",
		"install-files b", "hashkv-before", "pregate-except 2", "restart b", "gate", "hashkv", "put-audit", "unlock", "host-unlock b", "host-unlock c"}
	if diff := cmp.Diff(want, hostLocksSorted(w.calls)); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if !strings.Contains(audit.String(), "acquired on the hosts of b, c (the cluster grants no lease)") {
		t.Errorf("the audit does not record the host locks:\n%s", audit.String())
	}

	// Another apply holds c's lock: b alone is no majority of 3.
	w = &fakeWorld{leader: 1, obs: obs, noSpace: true, hostHeld: map[string]bool{"c": true}}
	_, err := Run(context.Background(), withTargets(testConfig(), nospacePlan(obs)), fakeConn{w}, Options{SnapshotDir: t.TempDir()})
	for _, s := range []string{"could not take the apply lock: the cluster grants no lease (NOSPACE)", "2 of 3 voting members' hosts, and 1 were taken", "c is held by the other apply"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v, want it to say %q", err, s)
		}
	}
	if want := []string{"lock refused: no lease", "host-lock b", "host-lock c", "host-unlock b"}; !cmp.Equal(want, hostLocksSorted(w.calls)) {
		t.Errorf("calls %q, want %q: nothing but the locks", w.calls, want)
	}

	// The majority is of the live member list, read when locking: two
	// members were added since the plan, so b and c are 2 of 5, no
	// majority (the stale-plan check, after the lock, would refuse the
	// plan anyway; a majority of the old list could overlap nothing that
	// another apply of a newer plan holds).
	w = &fakeWorld{leader: 1, obs: obs, noSpace: true, live: []LiveMember{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}, {ID: 3, Name: "c"}, {ID: 4, Name: "d"}, {ID: 5, Name: "e"}}}
	_, err = Run(context.Background(), withTargets(testConfig(), nospacePlan(obs)), fakeConn{w}, Options{SnapshotDir: t.TempDir()})
	for _, s := range []string{"3 of 5 voting members' hosts, and 2 were taken", "the plan's steps name the hosts of only 2 of the 5 voting members of the live member list"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("error %v, want it to say %q", err, s)
		}
	}
	if want := []string{"lock refused: no lease", "host-lock b", "host-lock c", "host-unlock b", "host-unlock c"}; !cmp.Equal(want, hostLocksSorted(w.calls)) {
		t.Errorf("calls %q, want %q: nothing but the locks", w.calls, want)
	}

	// Planned under NOSPACE, the host locks are taken beside the lease
	// attempt. The cluster grants it again (another apply disarmed), but
	// that apply still holds c's host lock: this one stops, lets go of
	// the in-cluster lock and of b's, and changes nothing.
	w = &fakeWorld{leader: 1, obs: obs, hostHeld: map[string]bool{"c": true}}
	_, err = Run(context.Background(), withTargets(testConfig(), nospacePlan(obs)), fakeConn{w}, Options{SnapshotDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "could not take the apply lock: the host locks") || !strings.Contains(err.Error(), "c is held by the other apply") {
		t.Errorf("error %v, want it to name the host lock another apply holds", err)
	}
	if want := []string{"lock", "host-lock b", "host-lock c", "host-unlock b", "unlock"}; !cmp.Equal(want, hostLocksSorted(w.calls)) {
		t.Errorf("calls %q, want %q: nothing but the locks", w.calls, want)
	}

	// It grants it and no other apply holds a host lock: both locks are
	// held to the end.
	w = &fakeWorld{leader: 1, obs: obs}
	if _, err := Run(context.Background(), withTargets(testConfig(), nospacePlan(obs)), fakeConn{w}, Options{SnapshotDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	calls := hostLocksSorted(w.calls)
	if want := []string{"lock", "host-lock b", "host-lock c", "compact 4711"}; !cmp.Equal(want, calls[:4]) {
		t.Errorf("calls %q, want them to start %q", calls, want)
	}
	if want := []string{"unlock", "host-unlock b", "host-unlock c"}; !cmp.Equal(want, calls[len(calls)-3:]) {
		t.Errorf("calls %q, want them to end %q", calls, want)
	}
}

// Issue 15 #3: a lock the cluster refuses (NOSPACE: no lease is granted)
// is reported with etcd's reason, never as "another apply is running".
func TestRunLockRefusedSaysWhy(t *testing.T) {
	w := &fakeWorld{leader: 1, obs: testObserved("h1"),
		lockErr: errors.New("etcd: the cluster refuses the apply lock: cluster lab refuses writes: database space exceeded (NOSPACE alarm on a (1))")}
	_, err := Run(context.Background(), withTargets(testConfig(), rollingPlan(testObserved("h1"))), fakeConn{w}, Options{SnapshotDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "could not take the apply lock: etcd: the cluster refuses the apply lock: cluster lab refuses writes: database space exceeded (NOSPACE alarm on a (1))") {
		t.Fatalf("error %v, want the cluster's reason", err)
	}
	for _, bad := range []string{"another apply", "within"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error %q says %q: nobody holds the lock", err, bad)
		}
	}
	if len(w.calls) != 0 {
		t.Errorf("calls %v, want none", w.calls)
	}
}

// Issue 13 #11: an apply stopped by a signal is recorded as interrupted,
// in the step's outcome, the audit and the error, not as a failure.
func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	w := &fakeWorld{leader: 1, obs: testObserved("h1"), cancelOn: "restart c", cancel: cancel}
	var audit bytes.Buffer
	var events []string
	res, err := Run(ctx, withTargets(testConfig(), rollingPlan(testObserved("h1"))), fakeConn{w}, Options{
		SnapshotDir: t.TempDir(), Audit: NewAudit(&audit, "planhash", "abc", "me"),
		Now:      func() time.Time { return time.Unix(0, 0) },
		Progress: func(e Event) { events = append(events, fmt.Sprintf("%d %s %v", e.Step, e.Phase, e.Err)) },
	})
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "interrupt signal received") || !strings.Contains(err.Error(), "step 5/7 (restart c)") {
		t.Fatalf("error %v, want ErrInterrupted naming the cause and the step", err)
	}
	var outs []string
	for _, s := range res.Steps {
		outs = append(outs, s.Outcome)
	}
	if diff := cmp.Diff([]string{"done", "done", "done", "done", "interrupted", "not started", "not started"}, outs); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if last := events[len(events)-1]; last != "5 interrupted interrupt signal received" {
		t.Errorf("last progress event %q", last)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(audit.String()), "\n") {
		var e AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Kind == "step" || e.Kind == "apply-end" {
			got = append(got, fmt.Sprintf("%s %d %s", e.Kind, e.Step, e.Outcome))
		}
	}
	want := []string{"step 1 done", "step 2 done", "step 3 done", "step 4 done", "step 5 interrupted", "apply-end 0 interrupted: interrupt signal received"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if strings.Contains(audit.String(), "failed") {
		t.Errorf("the audit calls the interruption a failure:\n%s", audit.String())
	}
}

// TestRemoveReachableMember covers issue 13 #7 in the executor: a removed
// member whose host is reachable leaves the member list first, then its
// service is stopped and disabled and its data dir's member/ is renamed
// aside inside the data dir (never deleted); an unreachable one is only
// removed from the list.
func TestRemoveReachableMember(t *testing.T) {
	for name, tc := range map[string]struct {
		hostDown  bool
		wantCalls []string
		wantOps   []op
	}{
		"reachable": {
			wantCalls: []string{"lock", "hashkv-before", "pregate-except 3", "remove 3", "stop c", "disable c", "move-aside c", "gate", "hashkv", "put-audit", "unlock"},
			wantOps: []op{{Host: "c", Op: "stop"}, {Host: "c", Op: "disable"},
				{Host: "c", Op: "move-aside", From: "/var/lib/etcd/member", Aside: "/var/lib/etcd/member.removed-19700101T000000Z"}},
		},
		"unreachable": {
			hostDown:  true,
			wantCalls: []string{"lock", "hashkv-before", "pregate-except 3", "remove 3", "gate", "hashkv", "put-audit", "unlock"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{leader: 1, obs: testObserved("h1")}
			p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(testObserved("h1")),
				Steps: []plan.Step{{Action: plan.RemoveMember, Cluster: "lab", Member: "c", MemberID: 3, PeerURL: "http://c:2380", HostDown: tc.hostDown}}}
			_, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{
				Audit: NewAudit(io.Discard, "planhash", "abc", "me"), Now: func() time.Time { return time.Unix(0, 0) },
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantCalls, w.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantOps, w.ops); diff != "" {
				t.Errorf("host operations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPromoteSilentLearner (issue 16): a learner this apply added that
// etcd shows published but that answers no client (etcd lost the wait for
// its first publish) is promoted at once, under etcd's own check, rather
// than after the publish retry; the gate after the step still waits for it.
// A learner left by an earlier apply is never taken for silent, and any
// other failure of the wait stops the step before the promotion.
func TestPromoteSilentLearner(t *testing.T) {
	silent := fmt.Errorf("%w: member 7, for 1s: context deadline exceeded", ErrLearnerSilent)
	promote := func(id uint64) plan.Step {
		return plan.Step{Action: plan.Promote, Cluster: "lab", Member: "d", MemberID: id}
	}
	for name, tc := range map[string]struct {
		added bool // the plan adds the learner first
		err   error
		calls []string
		fails bool
	}{
		"caught up, added earlier":             {false, nil, []string{"wait-learner 4", "promote 4", "gate"}, false},
		"caught up, added by this apply":       {true, nil, []string{"wait-learner 7 new", "promote 7", "gate"}, false},
		"silent, added by this apply":          {true, silent, []string{"wait-learner 7 new", "promote 7", "gate"}, false},
		"silent-looking, added earlier":        {false, silent, []string{"wait-learner 4"}, true},
		"never caught up, added by this apply": {true, errors.New("etcd: member has not caught up with the leader"), []string{"wait-learner 7 new"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{leader: 1, obs: testObserved("h1"), learnerErr: tc.err}
			steps := []plan.Step{promote(4)}
			if tc.added {
				steps = []plan.Step{newMemberStep(t), promote(0)}
			}
			p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(testObserved("h1")), Steps: steps}
			var phases []string
			_, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{
				Audit: NewAudit(io.Discard, "planhash", "abc", "me"), Now: func() time.Time { return time.Unix(0, 0) },
				Progress: func(e Event) { phases = append(phases, e.Phase) },
			})
			if (err != nil) != tc.fails {
				t.Fatalf("apply: %v, want failure %v", err, tc.fails)
			}
			var got []string
			for _, c := range w.calls {
				if strings.HasPrefix(c, "wait-learner") || strings.HasPrefix(c, "promote") || c == "gate" {
					got = append(got, c)
				}
			}
			if i := slices.IndexFunc(got, func(c string) bool { return strings.HasPrefix(c, "wait-learner") }); i >= 0 {
				got = got[i:]
			}
			if diff := cmp.Diff(tc.calls, got); diff != "" {
				t.Errorf("calls (-want +got):\n%s\nall: %v", diff, w.calls)
			}
			said := slices.ContainsFunc(phases, func(p string) bool { return strings.Contains(p, "etcd lost the wait for its first publish") })
			if said != (tc.added && tc.err == silent) {
				t.Errorf("progress %q: the silent learner said %v", phases, said)
			}
		})
	}
}

// TestAddLearnerEnablesService: a host whose member was removed before
// has its service disabled; adding a member there enables it again, after
// the preflight (which ignores what a removal moved aside) and before the
// member is added; the config written has initial-cluster from the live
// member list.
func TestAddLearnerEnablesService(t *testing.T) {
	w := &fakeWorld{leader: 1, obs: testObserved("h1")}
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(testObserved("h1")),
		Steps: []plan.Step{newMemberStep(t)}}
	_, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{
		Audit: NewAudit(io.Discard, "planhash", "abc", "me"), Now: func() time.Time { return time.Unix(0, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"lock", "hashkv-before", "gate", "preflight d", "enable d", "add-learner http://d:2380", "install-files d", "start d", "hashkv", "put-audit", "unlock"}
	if diff := cmp.Diff(want, w.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	wantPre := &Preflight{Binary: "/usr/local/bin/etcd", Version: "3.6.16", DataDir: "/var/lib/etcd", Ignore: []string{AsidePrefix}, PeerPort: 2380}
	if diff := cmp.Diff(wantPre, w.ops[0].Preflight); diff != "" {
		t.Errorf("preflight (-want +got):\n%s", diff)
	}
	files := w.ops[2].Files
	if len(files) != 1 || files[0].Path != "/etc/etcd/etcd.conf.yml" || files[0].Mode != 0o644 {
		t.Fatalf("config install %+v", files)
	}
	for _, line := range []string{"initial-cluster: a=http://a:2380,d=http://d:2380", "initial-cluster-state: existing", "initial-cluster-token: lab"} {
		if !strings.Contains(string(files[0].Data), line) {
			t.Errorf("the new member's config lacks %q:\n%s", line, files[0].Data)
		}
	}
}

// withTargets fills in p's targets from cfg, as plan.Make does.
func withTargets(cfg *schema.Config, p *plan.Plan) *plan.Plan {
	plan.AddTargets(cfg, p)
	return p
}

// survivorStep is the recovery of member a, the survivor of a lost
// quorum, with its config as the planner renders it.
func survivorStep(t *testing.T) plan.Step {
	c := testConfig().Clusters[0]
	f, err := etcdconf.Marshal(render.Member(c, c.Member("a"), etcdconf.Bootstrap{InitialCluster: "a=http://a:2380", Token: "lab-after-2a", State: "new"}))
	if err != nil {
		t.Fatal(err)
	}
	return plan.Step{Action: plan.RecoverSurvivor, Cluster: "lab", Member: "a", MemberID: 1, PeerURL: "http://a:2380", Config: f}
}

// fakeSnapshot is the content of the backup testBackup describes.
var fakeSnapshot = []byte("a snapshot with its trailing hash")

// testBackup is a backup record of fakeSnapshot.
func testBackup() *plan.BackupSnapshot {
	sum := sha256.Sum256(fakeSnapshot)
	return &plan.BackupSnapshot{Destination: "s3://backups/lab", ID: "lab-20261202T100000Z", Object: "lab-20261202T100000Z.snap.age",
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(fakeSnapshot)), Encrypted: true, Recipient: "age1xyz",
		Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Revision: 40, KeyCount: 12}
}

// fakeFetch is Options.FetchBackup writing fakeSnapshot.
func fakeFetch(_ context.Context, _ string, _ plan.BackupSnapshot, path string) error {
	return os.WriteFile(path, fakeSnapshot, 0o600)
}

// restoreStep restores testBackup on member a of a new cluster a, b, c.
func restoreStep(t *testing.T) plan.Step {
	c := testConfig().Clusters[0]
	f, err := etcdconf.Marshal(render.Member(c, c.Member("a"), etcdconf.Bootstrap{InitialCluster: "a=http://a:2380,b=http://b:2380,c=http://c:2380", Token: "lab-restored", State: "new"}))
	if err != nil {
		t.Fatal(err)
	}
	return plan.Step{Action: plan.RestoreMember, Cluster: "lab", Member: "a", PeerURL: "http://a:2380", Config: f, Backup: testBackup()}
}

// survivorObserved is a cluster whose only answering voter is a.
func survivorObserved() *state.Observed {
	return &state.Observed{Clusters: map[string]*state.Cluster{"lab": {
		Name: "lab", ClusterID: 42, Reachable: true,
		Members: []state.Member{{ID: 1, Name: "a", Status: &state.EndpointStatus{RaftAppliedIndex: 77}}},
		Hosts:   map[string]*state.Host{"a": {Reachable: true, ConfigHash: "h1"}},
	}}}
}

// newMemberStep is the step that adds member d, with its config as the
// planner renders it.
func newMemberStep(t *testing.T) plan.Step {
	c := testConfig().Clusters[0]
	tmpl, err := etcdconf.Marshal(render.Member(c, c.Member("d"), etcdconf.Bootstrap{Token: c.Name, State: "existing"}))
	if err != nil {
		t.Fatal(err)
	}
	return plan.Step{Action: plan.AddLearner, Cluster: "lab", Member: "d", PeerURL: "http://d:2380", Config: tmpl}
}

// Issue 20: the events a client can feel carry a typed Milestone, in the
// order they happen: the leader's restart step hands leadership over (to
// the transferee named in Peer) before the service goes down.
func TestRunMilestones(t *testing.T) {
	w := &fakeWorld{leader: 1, obs: testObserved("h1"), conns: map[string][]int{"a": {3, 3}}}
	var got []string
	_, err := Run(context.Background(), withTargets(testConfig(), rollingPlan(testObserved("h1"))), fakeConn{w}, Options{
		SnapshotDir: t.TempDir(),
		Progress: func(e Event) {
			if e.Milestone != 0 && e.Member == "a" && e.Action == plan.Restart {
				got = append(got, fmt.Sprintf("%d peer=%d", e.Milestone, e.Peer))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("%d peer=0", StepStarted), fmt.Sprintf("%d peer=0", PreGatePassed),
		fmt.Sprintf("%d peer=99", LeaderMoveSent), fmt.Sprintf("%d peer=99", LeaderMoved),
		fmt.Sprintf("%d peer=0", StopGatePassed), fmt.Sprintf("%d peer=0", ServiceStopping), fmt.Sprintf("%d peer=0", ServiceRunning),
		fmt.Sprintf("%d peer=0", GatePassed), fmt.Sprintf("%d peer=0", ClientsBack), fmt.Sprintf("%d peer=0", StepDone),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("milestones of the leader's restart (-want +got):\n%s", diff)
	}
}

// Issue 20: a restart waits until the member has as many client
// connections as before it (counted on its client ports), so that the
// next member goes down only once the clients can fail over to this one;
// clients that do not come back within ClientsBackTimeout do not stop the
// apply.
func TestRestartWaitsForClients(t *testing.T) {
	for name, tc := range map[string]struct {
		conns   []int
		timeout time.Duration
		want    []string
		phase   string
	}{
		"clients come back": {
			conns: []int{4, 0, 2, 5}, timeout: time.Minute,
			want:  []string{"conns b [2379] = 4", "restart b", "gate", "conns b [2379] = 0", "conns b [2379] = 2", "conns b [2379] = 5", "hashkv"},
			phase: "clients back (5 connections, 4 before the restart)",
		},
		"some never do": {
			conns: []int{4, 1}, timeout: time.Nanosecond,
			want:  []string{"conns b [2379] = 4", "restart b", "gate", "conns b [2379] = 1", "hashkv"},
			phase: "1 of 4 client connections back",
		},
		"no clients, no wait": {
			conns: []int{0}, timeout: time.Minute,
			want: []string{"conns b [2379] = 0", "restart b", "gate", "hashkv"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{leader: 1, obs: testObserved("h1"), conns: map[string][]int{"b": tc.conns}}
			p := rollingPlan(testObserved("h1"))
			p.Steps = p.Steps[:3] // snapshot, write-config b, restart b
			var phases []string
			_, err := Run(context.Background(), withTargets(testConfig(), p), fakeConn{w}, Options{
				SnapshotDir: t.TempDir(), ClientsBackTimeout: tc.timeout,
				Progress: func(e Event) { phases = append(phases, e.Phase) },
			})
			if err != nil {
				t.Fatal(err)
			}
			got := w.calls[slices.Index(w.calls, "pregate-except 2")+1:]
			got = got[:slices.Index(got, "hashkv")+1]
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("calls after the pre-gate (-want +got):\n%s", diff)
			}
			if tc.phase != "" && !slices.ContainsFunc(phases, func(p string) bool { return strings.HasPrefix(p, tc.phase) }) {
				t.Errorf("progress %q lacks %q", phases, tc.phase)
			}
		})
	}
}

// reconnectBy covers the latest first retry after the server is back.
func TestReconnectBy(t *testing.T) {
	for down, want := range map[time.Duration]time.Duration{
		0:                       1200 * time.Millisecond, // the first retry, 1 s +20%
		time.Second:             time.Second + 1920*time.Millisecond,
		1300 * time.Millisecond: 1300*time.Millisecond + 1920*time.Millisecond,
		3 * time.Second:         3*time.Second + 3072*time.Millisecond,
		time.Hour:               time.Hour + 144*time.Second, // capped at 120 s +20%
	} {
		if got := reconnectBy(down); got != want {
			t.Errorf("reconnectBy(%s) = %s, want %s", down, got, want)
		}
	}
}

// hostLocksSorted returns calls with each run of "host-lock" calls sorted
// (the hosts are locked at once), and the leading calls that take the
// locks, which run at once for a plan made under NOSPACE (the in-cluster
// attempt beside the host locks), in a fixed order: the in-cluster lock's
// calls, the host locks sorted, then the host unlocks sorted.
func hostLocksSorted(calls []string) []string {
	out := slices.Clone(calls)
	lead := 0
	for lead < len(out) && (out[lead] == "lock" || strings.HasPrefix(out[lead], "lock refused") ||
		strings.HasPrefix(out[lead], "host-lock ") || strings.HasPrefix(out[lead], "host-unlock ")) {
		lead++
	}
	rank := func(c string) int {
		switch {
		case strings.HasPrefix(c, "host-lock "):
			return 1
		case strings.HasPrefix(c, "host-unlock "):
			return 2
		}
		return 0
	}
	slices.SortStableFunc(out[:lead], func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if rank(a) == 0 {
			return 0
		}
		return strings.Compare(a, b)
	})
	for i := lead; i < len(out); {
		j := i
		for j < len(out) && strings.HasPrefix(out[j], "host-lock ") {
			j++
		}
		slices.Sort(out[i:j])
		i = max(j, i+1)
	}
	return out
}

// A member that dies between the gate before a restart and the restart's
// stop must stop the apply before a second member goes down: after a
// leadership move, or a leadership check slower than stopGateAfter, the
// restart asks the cluster again right before the stop, and a failing
// answer leaves the member running.
func TestRestartGatesAgainBeforeStop(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate    func(w *fakeWorld, clock *time.Time)
		wantCalls []string
		wantErr   string
	}{
		"the leader's restart, a member down after the move": {
			mutate: func(w *fakeWorld, _ *time.Time) { w.failNth = map[string]int{"pregate-except 1": 2} },
			wantCalls: []string{"lock", "hashkv-before", "snapshot", "install-files b", "pregate-except 2", "restart b", "gate", "install-files c", "pregate-except 3", "restart c", "gate",
				"install-files a", "pregate-except 1", "move-leader-from 1", "pregate-except 1", "put-audit", "unlock"},
			wantErr: "not healthy right before a was to stop, so it was not stopped",
		},
		"a follower's slow leadership check, a member down meanwhile": {
			mutate: func(w *fakeWorld, clock *time.Time) {
				w.onTransferee = func() { *clock = clock.Add(time.Second) }
				w.failNth = map[string]int{"pregate-except 2": 2}
			},
			wantCalls: []string{"lock", "hashkv-before", "snapshot", "install-files b", "pregate-except 2", "pregate-except 2", "put-audit", "unlock"},
			wantErr:   "not healthy right before b was to stop, so it was not stopped",
		},
		"a follower's slow leadership check, all healthy": {
			mutate: func(w *fakeWorld, clock *time.Time) {
				w.onTransferee = func() { *clock = clock.Add(time.Second) }
			},
			wantCalls: []string{"lock", "hashkv-before", "snapshot", "install-files b", "pregate-except 2", "pregate-except 2", "restart b", "gate",
				"install-files c", "pregate-except 3", "pregate-except 3", "restart c", "gate",
				"install-files a", "pregate-except 1", "move-leader-from 1", "pregate-except 1", "restart a", "gate", "hashkv", "put-audit", "unlock"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := &fakeWorld{leader: 1, obs: testObserved("h1")}
			clock := time.Unix(0, 0)
			tc.mutate(w, &clock)
			var audit bytes.Buffer
			_, err := Run(context.Background(), withTargets(testConfig(), rollingPlan(testObserved("h1"))), fakeConn{w}, Options{
				SnapshotDir: t.TempDir(), Audit: NewAudit(&audit, "planhash", "abc", "me"),
				Now: func() time.Time { return clock },
			})
			checkRun(t, err, tc.wantErr, tc.wantCalls, w.calls)
		})
	}
}

// checkRun fails t when err is not what wantErr asks for ("": none) or
// the calls are not want.
func checkRun(t *testing.T, err error, wantErr string, want, calls []string) {
	t.Helper()
	if wantErr == "" && err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
		t.Fatalf("error %v, want one containing %q", err, wantErr)
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// An upgrade whose gate before the stop fails has swapped its binaries in
// already: the error says the member runs the old version and starts the
// new one at its next restart.
func TestUpgradeNotStoppedSaysBinariesSwapped(t *testing.T) {
	w := &fakeWorld{leader: 1, obs: testObserved("h1"), failNth: map[string]int{"pregate-except 1": 2}}
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(testObserved("h1")),
		Steps: []plan.Step{{Action: plan.UpgradeMember, Cluster: "lab", Member: "a", MemberID: 1,
			Uploads: []plan.Upload{{Role: "etcd-binary", Path: "/usr/local/bin/etcd", Source: "/cache/sha256-ab", SHA256: "ab", Mode: 0o755}}}}}
	_, err := Run(t.Context(), withTargets(testConfig(), p), fakeConn{w}, Options{
		SnapshotDir: t.TempDir(), Audit: NewAudit(io.Discard, "planhash", "abc", "me"), Now: func() time.Time { return time.Unix(0, 0) },
	})
	if err == nil || !strings.Contains(err.Error(), "the new binaries of a are swapped in") || !strings.Contains(err.Error(), "so it was not stopped") {
		t.Fatalf("err = %v", err)
	}
	if slices.Contains(w.calls, "restart a") {
		t.Errorf("a was restarted: %v", w.calls)
	}
}

// A removal of the member that leads moves leadership first and asks the
// cluster again before the removal: a member down since leaves the
// member list as it was.
func TestRemoveGatesAgainAfterMove(t *testing.T) {
	w := &fakeWorld{leader: 1, obs: testObserved("h1"), failNth: map[string]int{"pregate-except 1": 2}}
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(testObserved("h1")),
		Steps: []plan.Step{{Action: plan.RemoveMember, Cluster: "lab", Member: "a", MemberID: 1, PeerURL: "http://a:2380"}}}
	phases := map[string]bool{}
	_, err := Run(t.Context(), withTargets(testConfig(), p), fakeConn{w}, Options{
		SnapshotDir: t.TempDir(), Audit: NewAudit(io.Discard, "planhash", "abc", "me"), Now: func() time.Time { return time.Unix(0, 0) },
		Progress: func(e Event) { phases[e.Phase] = true },
	})
	checkRun(t, err, "right before a was to be removed, so it was not removed",
		[]string{"lock", "hashkv-before", "pregate-except 1", "move-leader-from 1", "pregate-except 1", "put-audit", "unlock"}, hostLocksSorted(w.calls))
	if !phases["checking health before the removal"] {
		t.Errorf("no phase \"checking health before the removal\" in %v", phases)
	}
}
