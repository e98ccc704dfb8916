package e2e

// Faults injected during apply (issue 18, "Faults"): one test per fault.
// Each shows that the apply stops safe (exit 1, naming the step and the
// member), that quorum is never lost (quorumMonitor), that no acknowledged
// write is lost (writer), that the history of concurrent puts and
// linearizable gets through the fault, the heal and the re-apply is
// linearizable (internal/history), and that once the fault is healed a
// re-plan and its apply converge and a further plan is empty. Every fault
// is injected on a condition the apply reports (its progress lines) or the
// lab shows (a held stop), never after a sleep. Related tests elsewhere: a
// member killed between steps (TestApplyStopsOnMidApplyFault), SIGINT
// (TestApplyInterrupted), a learner whose binary hangs
// (TestRebuiltMemberFaultE2E).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
)

// faultStepTimeout bounds each step of a faulted apply: the steps before
// the fault must pass on a loaded machine, and a step hung on a fault
// ends within it.
const faultStepTimeout = "20s"

// TestFaultSSHCutMidRestart: the SSH connection to a member's host is
// reset while its restart command runs there. The lab holds the member's
// stop open (runit's finish script) so that the cut provably lands while
// the restart waits on the host; then the hold is released. The apply
// stops at that restart, naming it; the other members keep quorum. The
// orphaned command may or may not finish the restart on the host: the
// re-plan starts or restarts the member as needed and converges.
func TestFaultSSHCutMidRestart(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	ctx := t.Context()
	dir := config(t, st, withStorage("3GiB"))
	victim := firstRestart(t, dir)
	pf := planFile(t, dir)
	mon := startQuorumMonitor(t, st, victim)
	w := startWriter(t, st)
	w.waitAcked(t, 20)
	hist := recordHistory(t, st)

	hold, err := st.HoldStop(victim)
	if err != nil {
		t.Fatal(err)
	}
	a := startApply(t, applyArgs(t, "--step-timeout", faultStepTimeout, pf)...)
	a.waitFor(t, stepLine("restart", victim, "restarting"))
	labtest.Eventually(t, time.Minute, func() error {
		if !hold.Held() {
			return fmt.Errorf("the stop of %s is not held yet", victim)
		}
		return nil
	})
	// etcd on the victim has exited, and the restart command waits for
	// runit to say "down": cut its connection now.
	if err := st.Fault(ctx, lab.FaultCutSSH, victim); err != nil {
		t.Fatal(err)
	}
	if err := hold.Release(ctx); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := a.wait(t)
	if code != 1 || !strings.Contains(stderr, "(restart "+victim+") failed") || !strings.Contains(stderr, "ssh ") {
		t.Fatalf("apply with its SSH connection cut mid-restart: exit %d, want 1 with the failed restart of %s and the SSH error:\n%s", code, victim, stderr)
	}
	waitOrphansGone(t, st, victim)
	mon.halt()
	mon.noFailures(t)
	converge(t, dir)
	w.verify(t)
	hist.Verify(t)
}

// TestFaultMemberKilledInOwnGate: a member is killed while apply waits
// for it in the health gate after its own restart. To make "during its
// gate" a condition rather than a race (a restarted member is healthy
// within about 100 ms), the member restarts blackholed from its peers, so
// its gate cannot pass; it is killed once apply reports it waits for its
// health, and the blackhole is healed. The gate fails naming the member,
// no further step starts, and the others keep quorum.
func TestFaultMemberKilledInOwnGate(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	ctx := t.Context()
	dir := config(t, st, withStorage("3GiB"))
	victim := firstRestart(t, dir)
	pf := planFile(t, dir)
	mon := startQuorumMonitor(t, st, victim)
	w := startWriter(t, st)
	w.waitAcked(t, 20)
	hist := recordHistory(t, st)

	hold, err := st.HoldStop(victim)
	if err != nil {
		t.Fatal(err)
	}
	a := startApply(t, applyArgs(t, "--step-timeout", faultStepTimeout, "--gate-timeout", "10s", pf)...)
	labtest.Eventually(t, time.Minute, func() error {
		if !hold.Held() {
			return fmt.Errorf("the stop of %s is not held yet", victim)
		}
		return nil
	})
	if err := st.Fault(ctx, lab.FaultBlackhole, victim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Fault(context.Background(), lab.FaultHeal, victim) })
	if err := hold.Release(ctx); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, stepLine("restart", victim, "waiting for health"))
	if err := st.Fault(ctx, lab.FaultKill, victim); err != nil {
		t.Fatal(err)
	}
	if err := st.Fault(ctx, lab.FaultHeal, victim); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := a.wait(t)
	if code != 1 || !strings.Contains(stderr, "(restart "+victim+") failed") ||
		!strings.Contains(stderr, "health gate after the step did not pass") || !strings.Contains(stderr, victim+" ") {
		t.Fatalf("apply with %s killed in its own gate: exit %d, want 1 with its restart's gate failing and naming it:\n%s", victim, code, stderr)
	}
	if regexp.MustCompile(`restart ` + victim + `: healthy \(`).MatchString(stdout) {
		t.Fatalf("the gate of %s passed before it was killed:\n%s", victim, stdout)
	}
	if n := strings.Count(stdout, ": restarting ("); n != 1 {
		t.Errorf("%d members were restarted, want only %s", n, victim)
	}
	mon.halt()
	mon.noFailures(t)
	if err := st.Fault(ctx, lab.FaultStart, victim); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, st)
	converge(t, dir)
	w.verify(t)
	hist.Verify(t)
}

// TestFaultLearnerBlackholed: a scale-out whose new member's peer traffic
// is blackholed (silently dropped both ways; the runner still reaches the
// host). The learner is added and started but never catches up: apply
// stops at its promotion within the step timeout, naming it, and it is
// never promoted. Healed, the re-plan finishes the scale-out.
func TestFaultLearnerBlackholed(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3, Spare: 1})
	ctx := t.Context()
	spare := st.Hosts[len(st.Hosts)-1]
	// Four voters (allow_even) keep the scale-out to one learner.
	dir := labtest.ConfigDir(t, st, withMembers(spare), func(s string) string {
		return strings.Replace(s, "etcd_version", "allow_even   = true\n  etcd_version", 1)
	})
	pf := planFile(t, dir)
	mon := startQuorumMonitor(t, st, "")
	w := startWriter(t, st)
	w.waitAcked(t, 20)
	hist := recordHistory(t, st)

	if err := st.Fault(ctx, lab.FaultBlackhole, spare.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Fault(context.Background(), lab.FaultHeal, spare.Name) })
	a := startApply(t, applyArgs(t, "--step-timeout", "15s", pf)...)
	line := a.waitFor(t, stepLine("promote", "etcd-4", "starting"))
	code, _, stderr := a.wait(t)
	t.Logf("apply ended %s after the promote step began (--step-timeout 15s)", time.Since(line.at).Round(100*time.Millisecond))
	if code != 1 || !strings.Contains(stderr, "(promote etcd-4) failed") || !strings.Contains(stderr, "not caught up") {
		t.Fatalf("apply with a blackholed learner: exit %d, want 1 at the promotion of etcd-4, not caught up:\n%s", code, stderr)
	}
	// Promotion is one-way and the failed apply removed nothing: a
	// learner now was never a voter.
	found := false
	for _, m := range memberList(t, st) {
		if len(m.PeerURLs) > 0 && m.PeerURLs[0] == spare.PeerURL() {
			found = true
			if !m.IsLearner {
				t.Fatalf("the blackholed learner %s (%x) was promoted to a voter", spare.Addr, m.ID)
			}
		}
	}
	if !found {
		t.Fatalf("no member with peer URL %s after the failed apply", spare.PeerURL())
	}
	mon.halt()
	mon.noFailures(t)
	if err := st.Fault(ctx, lab.FaultHeal, spare.Name); err != nil {
		t.Fatal(err)
	}
	// Healed, the learner (restarted by runit) joins: plan once it has.
	labtest.Eventually(t, time.Minute, func() error {
		for _, m := range memberList(t, st) {
			if m.Name == "etcd-4" && len(m.ClientURLs) > 0 {
				return nil
			}
		}
		return fmt.Errorf("the learner etcd-4 has not started yet")
	})
	converge(t, dir)
	voters := 0
	for _, m := range memberList(t, st) {
		if !m.IsLearner {
			voters++
		}
	}
	if voters != 4 {
		t.Errorf("%d voters after the re-plan's apply, want 4", voters)
	}
	w.verify(t)
	hist.Verify(t)
}

// TestFaultLeaderPartitionedDuringMoveLeader: the leader's host is
// partitioned (off the bridge: no peer, no runner) once apply reports it
// is moving leadership away before the leader's restart. Whether the
// transfer completed before the cut or not, the restart cannot run: apply
// stops at that step, naming the leader. The other two members elect a
// leader by themselves (the monitor sees linearizable reads succeed again
// before the heal): at most one unavailable window, the election's.
func TestFaultLeaderPartitionedDuringMoveLeader(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	ctx := t.Context()
	dir := config(t, st, withStorage("3GiB"))
	leader := leaderName(t, st)
	pf := planFile(t, dir)
	mon := startQuorumMonitor(t, st, leader)
	w := startWriter(t, st)
	w.waitAcked(t, 20)
	hist := recordHistory(t, st)

	a := startApply(t, applyArgs(t, "--step-timeout", faultStepTimeout, pf)...)
	a.waitFor(t, stepLine("restart", leader, "moving leadership to"))
	if err := st.Fault(ctx, lab.FaultPartition, leader); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	t.Cleanup(func() { st.Fault(context.Background(), lab.FaultHeal, leader) })
	code, stdout, stderr := a.wait(t)
	if code != 1 || !strings.Contains(stderr, "(restart "+leader+") failed") {
		t.Fatalf("apply with the leader partitioned during MoveLeader: exit %d, want 1 at the restart of %s:\n%s", code, leader, stderr)
	}
	moved := strings.Contains(stdout, "restart "+leader+": leadership moved")
	t.Logf("the partition landed %s the transfer completed", map[bool]string{true: "after", false: "before"}[moved])
	// The majority recovers on its own, while the leader is still cut off.
	labtest.Eventually(t, 30*time.Second, func() error {
		if !mon.okSince(cut) {
			return fmt.Errorf("no linearizable read on the majority since the partition")
		}
		return nil
	})
	if err := st.Fault(ctx, lab.FaultHeal, leader); err != nil {
		t.Fatal(err)
	}
	mon.halt()
	mon.electionOnly(t, cut)
	waitHealthy(t, st)
	converge(t, dir)
	w.verify(t)
	hist.Verify(t)
}

// TestFaultApplyKilled: the etcdform process is killed (SIGKILL) while a
// restart runs. Nothing releases the in-cluster apply lock: its lease
// expires within its TTL (15 s), after which the next apply takes it, and
// the re-plan converges.
func TestFaultApplyKilled(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	ctx := t.Context()
	dir := config(t, st, withStorage("3GiB"))
	victim := firstRestart(t, dir)
	pf := planFile(t, dir)
	mon := startQuorumMonitor(t, st, victim)
	w := startWriter(t, st)
	w.waitAcked(t, 20)
	hist := recordHistory(t, st)

	a := startApply(t, applyArgs(t, "--step-timeout", faultStepTimeout, pf)...)
	a.waitFor(t, stepLine("restart", victim, "restarting"))
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if code, _, _ := a.wait(t); code != -1 {
		t.Fatalf("apply after SIGKILL: exit code %d, want -1 (killed)", code)
	}
	c := etcdClient(t, st)
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.Get(lctx, etcdp.LockPrefix+lab.ClusterName+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("%d apply lock keys after the kill, want the dead apply's one", len(resp.Kvs))
	}
	key, lease := string(resp.Kvs[0].Key), clientv3.LeaseID(resp.Kvs[0].Lease)
	ttl, err := c.TimeToLive(lctx, lease)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 15 || ttl.TTL > 15 {
		t.Fatalf("lock lease %x: granted TTL %ds, %ds left; want 15s granted", lease, ttl.GrantedTTL, ttl.TTL)
	}
	labtest.Eventually(t, time.Duration(ttl.GrantedTTL+5)*time.Second, func() error {
		gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		r, err := c.Get(gctx, key)
		if err != nil {
			return err
		}
		if len(r.Kvs) != 0 {
			return fmt.Errorf("lock key %s still held", key)
		}
		return nil
	})
	t.Logf("the dead apply's lock (lease %x, TTL %ds) was gone %s after the kill", lease, ttl.GrantedTTL, time.Since(killed).Round(100*time.Millisecond))
	waitOrphansGone(t, st, victim)
	mon.halt()
	mon.noFailures(t)
	// The next apply takes the lock at once (a 5 s lock timeout).
	converge(t, dir, "--lock-timeout", "5s")
	w.verify(t)
	hist.Verify(t)
}

// firstRestart returns the member of the plan's first restart step.
func firstRestart(t *testing.T, dir string) string {
	t.Helper()
	p, code := planAsJSON(t, dir)
	if code != 2 {
		t.Fatalf("plan: exit %d, want 2", code)
	}
	for _, s := range p.Steps {
		if s.Action == "restart" {
			return s.Member
		}
	}
	t.Fatalf("the plan restarts no member: %v", actions(p))
	return ""
}

// stepLine matches apply's progress line for a phase of the step of
// action on member: "[lab] step 2/6 restart etcd-1: restarting (1.2s)".
func stepLine(action, member, phase string) *regexp.Regexp {
	return regexp.MustCompile(`^\[lab\] step \d+/\d+ ` + regexp.QuoteMeta(action+" "+member+": "+phase))
}

// converge plans again; when that plan has changes, applies it; then a
// further plan must be empty.
func converge(t *testing.T, dir string, applyFlags ...string) {
	t.Helper()
	pf := filepath.Join(t.TempDir(), "converge.plan")
	switch _, _, code := cli(t, "plan", "--detailed-exitcode", "--out", pf, dir); code {
	case 0:
	case 2:
		if _, _, code := cli(t, applyArgs(t, append(applyFlags, pf)...)...); code != 0 {
			t.Fatalf("apply of the re-plan after the fault: exit %d", code)
		}
	default:
		t.Fatalf("re-plan after the fault: exit %d", code)
	}
	if _, _, code := cli(t, "plan", "--detailed-exitcode", dir); code != 0 {
		t.Fatalf("plan after converging: exit %d, want 0 (no changes)", code)
	}
}

// waitHealthy waits until every member answers /health.
func waitHealthy(t *testing.T, st *lab.State) {
	t.Helper()
	labtest.Eventually(t, time.Minute, func() error {
		for _, h := range st.Members() {
			if !lab.Healthy(t.Context(), h.ClientURL()) {
				return fmt.Errorf("%s is not healthy", h.Name)
			}
		}
		return nil
	})
}

// waitOrphansGone waits until no restart command that lost its SSH client
// runs on the member's host any more (sshd does not kill a command whose
// connection dropped; it may still finish the restart), so the re-plan
// sees the member as it stays.
func waitOrphansGone(t *testing.T, st *lab.State, member string) {
	t.Helper()
	labtest.Eventually(t, time.Minute, func() error {
		cmds, err := st.Commands(member)
		if err != nil {
			return err
		}
		for _, c := range cmds {
			if strings.Contains(c, "wait_for") {
				return fmt.Errorf("the restart command still runs on %s: %s", member, c)
			}
		}
		return nil
	})
	out, _ := labtest.SSH(st, mustHost(t, st, member), "sv status /etc/service/etcd")
	t.Logf("%s after the fault: %s", member, strings.TrimSpace(out))
}

func mustHost(t *testing.T, st *lab.State, name string) lab.Host {
	t.Helper()
	h, err := st.Host(name)
	if err != nil {
		t.Fatal(err)
	}
	return *h
}

// applyProc is an apply running in the background; its progress lines
// are read as they come.
type applyProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	mu     sync.Mutex
	lines  []progressLine
	grew   chan struct{} // closed and replaced when a line arrives or stdout ends
	ended  bool
	exited chan struct{}
	code   int
}

type progressLine struct {
	text string
	at   time.Time // when the test read it
}

func startApply(t *testing.T, args ...string) *applyProc {
	t.Helper()
	a := &applyProc{cmd: exec.Command(binary, args...), grew: make(chan struct{}), exited: make(chan struct{})}
	a.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	a.cmd.Stderr = &a.stderr
	out, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("$ etcdform %s  (in the background)", strings.Join(args, " "))
	go func() {
		defer close(a.exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			a.mu.Lock()
			a.lines = append(a.lines, progressLine{sc.Text(), time.Now()})
			close(a.grew)
			a.grew = make(chan struct{})
			a.mu.Unlock()
		}
		err := a.cmd.Wait()
		a.mu.Lock()
		a.ended = true
		close(a.grew)
		a.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			a.code = ee.ExitCode()
		} else if err != nil {
			a.code = -2
		}
		a.mu.Unlock()
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			a.cmd.Process.Kill()
			<-a.exited
		}
	})
	return a
}

// waitFor waits until a progress line matches re and returns it; the
// test fails if the apply ends first or nothing matches within 3 minutes.
func (a *applyProc) waitFor(t *testing.T, re *regexp.Regexp) progressLine {
	t.Helper()
	deadline := time.After(3 * time.Minute)
	for i := 0; ; {
		a.mu.Lock()
		for ; i < len(a.lines); i++ {
			if re.MatchString(a.lines[i].text) {
				l := a.lines[i]
				a.mu.Unlock()
				t.Logf("apply said: %s", l.text)
				return l
			}
		}
		ended, grew := a.ended, a.grew
		a.mu.Unlock()
		if ended {
			code, stdout, stderr := a.wait(t)
			t.Fatalf("apply ended (exit %d) before a line matching %q:\n%s%s", code, re, stdout, stderr)
		}
		select {
		case <-grew:
		case <-deadline:
			t.Fatalf("no apply progress line matching %q within 3 minutes", re)
		}
	}
}

// wait waits for the apply to end (4 minutes at most) and returns its
// exit code (-1 when a signal ended it) and output.
func (a *applyProc) wait(t *testing.T) (code int, stdout, stderr string) {
	t.Helper()
	select {
	case <-a.exited:
	case <-time.After(4 * time.Minute):
		// Its goroutines show where it hangs.
		a.cmd.Process.Signal(syscall.SIGQUIT)
		<-a.exited
		t.Errorf("apply did not end within 4 minutes; SIGQUIT sent")
	}
	var b strings.Builder
	for _, l := range a.lines {
		b.WriteString(l.text + "\n")
	}
	t.Logf("apply ended: exit %d\n%s%s", a.code, b.String(), a.stderr.String())
	return a.code, b.String(), a.stderr.String()
}

// quorumMonitor checks, all through the test, that the cluster keeps a
// quorum: in rounds, it reads linearizably through a client pinned to
// each member but the fault's own, each read retried within a short
// deadline (a leader change makes etcd refuse reads in flight, which is
// no quorum loss). A round in which no member answered is failed: the
// cluster served no linearizable read for that long.
type quorumMonitor struct {
	names   []string
	clients []*clientv3.Client
	mu      sync.Mutex
	rounds  int
	oks     []time.Time // start of every round that passed
	failed  []monitorRound
	loop
}

type monitorRound struct {
	start, end time.Time
	why        string
}

// monitorDeadline bounds one member's reads in a round: longer than an
// election (1 s election timeout), shorter than anything a lost quorum
// would ever end by itself.
const monitorDeadline = 2 * time.Second

func startQuorumMonitor(t *testing.T, st *lab.State, except string) *quorumMonitor {
	t.Helper()
	m := &quorumMonitor{loop: newLoop()}
	for _, h := range st.Members() {
		if h.Name != except {
			m.names = append(m.names, h.Name)
			m.clients = append(m.clients, etcdClientAt(t, h.ClientURL()))
		}
	}
	go func() {
		defer close(m.done)
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			m.round()
			select {
			case <-m.stop:
				return
			case <-time.After(100 * time.Millisecond): // the pace of the rounds
			}
		}
	}()
	t.Cleanup(m.halt)
	return m
}

func (m *quorumMonitor) round() {
	start := time.Now()
	errs := make([]error, len(m.clients))
	var wg sync.WaitGroup
	for i, c := range m.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), monitorDeadline)
			defer cancel()
			for {
				_, err := c.Get(ctx, "/faults/probe") // linearizable
				if err == nil || ctx.Err() != nil {
					errs[i] = err
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond): // between retries
				}
			}
		}()
	}
	wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rounds++
	var why []string
	for i, err := range errs {
		if err == nil {
			m.oks = append(m.oks, start)
			return
		}
		why = append(why, fmt.Sprintf("%s: %v", m.names[i], err))
	}
	m.failed = append(m.failed, monitorRound{start, time.Now(), strings.Join(why, "; ")})
}

// okSince reports whether a round that started after t passed.
func (m *quorumMonitor) okSince(t time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.oks) > 0 && m.oks[len(m.oks)-1].After(t)
}

func (m *quorumMonitor) summary() string {
	return fmt.Sprintf("%d rounds of linearizable reads on %s, %d failed", m.rounds, strings.Join(m.names, ", "), len(m.failed))
}

// noFailures fails the test if any round failed. Call after halt.
func (m *quorumMonitor) noFailures(t *testing.T) {
	t.Helper()
	t.Log("quorum monitor: " + m.summary())
	for _, r := range m.failed {
		t.Errorf("no linearizable read from %s to %s: %s", r.start.Format("15:04:05.000"), r.end.Format("15:04:05.000"), r.why)
	}
}

// electionOnly fails the test unless every failed round started after
// cut and they form one run (no round passed between two failed ones):
// the one election that replaces a cut-off leader. Call after halt.
func (m *quorumMonitor) electionOnly(t *testing.T, cut time.Time) {
	t.Helper()
	t.Log("quorum monitor: " + m.summary())
	for _, r := range m.failed {
		if r.start.Before(cut) {
			t.Errorf("no linearizable read from %s to %s, before the fault: %s", r.start.Format("15:04:05.000"), r.end.Format("15:04:05.000"), r.why)
		}
	}
	if len(m.failed) == 0 {
		return
	}
	first, last := m.failed[0].start, m.failed[len(m.failed)-1].start
	for _, ok := range m.oks {
		if ok.After(first) && ok.Before(last) {
			t.Errorf("reads failed, passed and failed again between %s and %s: more than one election", first.Format("15:04:05.000"), last.Format("15:04:05.000"))
			break
		}
	}
	t.Logf("unavailable window (the election after the cut): %s", m.failed[len(m.failed)-1].end.Sub(first).Round(10*time.Millisecond))
}
