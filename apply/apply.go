package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/etcdform/etcdform/plan/model"
	"github.com/etcdform/etcdform/state"
)

// Options tune Run.
type Options struct {
	LockTimeout time.Duration // how long to wait for another apply's lock
	GateTimeout time.Duration // bound of each health gate
	StepTimeout time.Duration // bound of each step's own work
	// BackupRunTimeout is added to StepTimeout for an install-backup-job
	// step that runs the job once (a whole snapshot, encrypted and
	// uploaded); default 30 minutes.
	BackupRunTimeout time.Duration
	// SnapshotDir receives the pre-change snapshot when the cluster has no
	// backup destination.
	SnapshotDir string
	Audit       *Audit
	// AuditKeep is how many in-cluster audit records a cluster keeps;
	// older ones are folded into its summary (default DefaultAuditKeep).
	AuditKeep int
	// Progress is given every progress event, from one goroutine at a
	// time (the steps of a concurrent group run in their own).
	Progress func(Event)
	// Now is the clock of the audit and the results (time.Now when nil);
	// the steps of a concurrent group call it from their goroutines.
	Now func() time.Time

	// ClientsBackTimeout bounds how long a restart waits, after its gate,
	// for the member's clients to come back (as many remote client
	// connections as before the restart) before the apply goes on; default
	// 15 seconds. The wait ends sooner when every client with gRPC's
	// default reconnect backoff has retried.
	ClientsBackTimeout time.Duration

	// Backup, when non-nil, takes the pre-change snapshot of a cluster
	// that has a backup block through the backup job's own code path
	// (checked, encrypted, uploaded to its destination, recorded) instead
	// of into SnapshotDir.
	// It is given the cluster's name, and called only for a cluster
	// whose ClusterTarget says it has a backup block.
	Backup func(ctx context.Context, cluster string) error

	// Verify, when non-nil, is given each cluster's observation under the
	// lock, after the stale-plan check, and returns an error when the
	// plan's steps for the cluster are not the ones derived from it (the
	// command derives them again from the configuration; apply has
	// none). Apply then stops before any step of the cluster, with an
	// error wrapping ErrPlanDiffers.
	Verify func(ctx context.Context, cluster string, obs *state.Observed) error

	// FetchBackup fetches backup b of cluster from its destination into a
	// new file at path (mode 0600): decrypted (the command holds the age
	// identity; the plan never does) and checked against b's size,
	// sha256 and trailing hash. A fetch-backup step fails without it.
	FetchBackup func(ctx context.Context, cluster string, b model.BackupSnapshot, path string) error
}

// Event is a progress report.
type Event struct {
	Cluster string
	Step    int // 1-based; 0 for cluster-level phases (lock, stale check)
	Steps   int
	Member  string
	Action  model.Action
	Phase   string // "locking", "checking plan", "writing config", "restarting", "waiting for health", "done", "failed", "interrupted"
	Elapsed time.Duration
	Err     error
	// Milestone is set on the events a client of the cluster can feel,
	// zero on the others.
	Milestone Milestone
	// Peer is the transferee of LeaderMoveSent and LeaderMoved.
	Peer uint64
}

// Milestone marks the progress events that a client of the cluster can
// feel (a leadership transfer, a member going down and coming back, a
// gate's reads on every member), so that a caller can put them on a
// timeline without parsing Phase (internal/bench's stall timeline does).
type Milestone int

const (
	StepStarted     Milestone = iota + 1 // the step begins (before its pre-step gate)
	PreGatePassed                        // the gate before the step passed
	LeaderMoveSent                       // MoveLeader is about to be sent to the leader (Peer: the transferee)
	LeaderMoved                          // the transferee reports itself leader
	StopGatePassed                       // the gate right before a restart's stop passed (after a leadership move, or a slow leadership check)
	ServiceStopping                      // the restart was sent to the service manager
	ServiceRunning                       // the service manager says the service runs again
	GatePassed                           // the gate after the step passed
	ClientsBack                          // the restarted member has its clients back, or every client has retried
	StepDone                             // the step is done
)

var milestoneNames = [...]string{"", "step start", "pre-gate passed", "MoveLeader sent", "leader moved", "gate before the stop passed", "restart sent", "service running", "gate passed", "clients back", "step done"}

// One name per milestone: the array's length is StepDone+1, or this fails
// to compile.
var _ = [1]struct{}{}[len(milestoneNames)-int(StepDone)-1]

// String names the milestone for a timeline: "MoveLeader sent".
func (m Milestone) String() string {
	if m < 0 || int(m) >= len(milestoneNames) {
		return fmt.Sprintf("milestone(%d)", int(m))
	}
	return milestoneNames[m]
}

// ErrStale is returned when the cluster changed since the plan was made.
var ErrStale = errors.New("apply: the cluster changed since the plan was made; run plan again")

// ErrPlanDiffers is returned when Options.Verify found the plan's steps
// are not the ones derived from the clusters under the lock.
var ErrPlanDiffers = errors.New("apply: the plan differs from the configuration")

// ErrLearnerSilent is a learner that etcd shows published but that
// answers no client (Etcd.WaitLearnerCaughtUp).
var ErrLearnerSilent = errors.New("learner silent")

// ErrLockHeld is a lock that another apply held until the lock timeout.
var ErrLockHeld = errors.New("another apply holds the lock")

// ErrRefused is returned for a plan that carries refusals.
var ErrRefused = errors.New("apply: the plan has refusals and cannot be applied")

// ErrInterrupted is returned when Run's context was cancelled (a signal,
// in the CLI) before every step was done; the error also says why
// (context.Cause) and where it stopped.
var ErrInterrupted = errors.New("apply: interrupted")

// interrupted reports whether ctx was cancelled (not timed out): the
// apply was stopped from outside, and a step that failed then failed
// because of it.
func interrupted(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// interruption is what the audit and the progress say of an interrupted
// apply: "interrupted: interrupt signal received".
func interruption(ctx context.Context) string {
	return "interrupted: " + context.Cause(ctx).Error()
}

// Result says what happened to each step.
type Result struct {
	Steps []StepResult
}

// StepResult is the outcome of one step.
type StepResult struct {
	Step    model.Step
	Outcome string // "done", "failed", "interrupted", "not started"
	Start   time.Time
	End     time.Time
	Err     string
}

// Run carries out p through conn, from the plan alone: each step and each
// cluster's ClusterTarget say where and with what (the caller checks the
// plan against the configuration first). It stops at the first failing
// step and takes no further action; res then says which steps ran.
func Run(ctx context.Context, p *model.Plan, conn Connector, opts Options) (res *Result, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Progress == nil {
		opts.Progress = func(Event) {}
	}
	if opts.GateTimeout == 0 {
		opts.GateTimeout = 2 * time.Minute
	}
	if opts.StepTimeout == 0 {
		opts.StepTimeout = 2 * time.Minute
	}
	if opts.BackupRunTimeout == 0 {
		opts.BackupRunTimeout = 30 * time.Minute
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Minute
	}
	if opts.ClientsBackTimeout == 0 {
		opts.ClientsBackTimeout = 15 * time.Second
	}
	res = &Result{}
	for _, s := range p.Steps {
		res.Steps = append(res.Steps, StepResult{Step: s, Outcome: "not started"})
	}
	opts.Audit.Record(AuditEntry{Kind: "apply-start", Time: opts.Now()})
	defer func() {
		outcome := "success"
		switch {
		case err != nil && interrupted(ctx):
			outcome = interruption(ctx)
			if !errors.Is(err, ErrInterrupted) {
				err = fmt.Errorf("%w (%v): %w", ErrInterrupted, context.Cause(ctx), err)
			}
		case err != nil:
			outcome = "failed: " + err.Error()
		}
		opts.Audit.Record(AuditEntry{Kind: "apply-end", Time: opts.Now(), Outcome: outcome})
	}()
	if p.HasRefusals() {
		var lines []string
		for _, r := range p.Refusals {
			lines = append(lines, fmt.Sprintf("  - %s: %s: %s", r.Cluster, r.Summary, r.Detail))
		}
		return res, fmt.Errorf("%w:\n%s", ErrRefused, strings.Join(lines, "\n"))
	}
	byCluster := map[string][]int{}
	for i, s := range p.Steps {
		byCluster[s.Cluster] = append(byCluster[s.Cluster], i)
	}
	for _, name := range p.Clusters {
		idx := byCluster[name]
		if len(idx) == 0 {
			continue
		}
		c := p.Target(name)
		if c == nil {
			return res, fmt.Errorf("apply: the plan does not say how to reach cluster %q (plan again with this etcdform)", name)
		}
		if err := runCluster(ctx, *c, p, idx, res, conn, opts); err != nil {
			return res, err
		}
	}
	return res, nil
}

// hasAction reports whether a step among idx of p is of action a.
func hasAction(p *model.Plan, idx []int, a model.Action) bool {
	for _, i := range idx {
		if p.Steps[i].Action == a {
			return true
		}
	}
	return false
}

// plannedUnderNoSpace says the steps idx of p clear a NOSPACE alarm: the
// plan was made while the cluster refused writes.
func plannedUnderNoSpace(p *model.Plan, idx []int) bool {
	return slices.Contains(clearedAlarms(p, idx), "NOSPACE")
}

// stepTargets is the hosts the steps idx of p name, each once.
func stepTargets(p *model.Plan, idx []int) []model.Target {
	var out []model.Target
	seen := map[string]bool{}
	for _, i := range idx {
		if t := p.Steps[i].Target; t != nil && !seen[p.Steps[i].Member] {
			seen[p.Steps[i].Member] = true
			out = append(out, *t)
		}
	}
	return out
}

// clearedAlarms is the alarm types ("NOSPACE") that the disarm-alarm
// steps among idx of p clear: the health gates before them report such an
// alarm but do not stop for it (issue 15: a plan that recovers from
// NOSPACE must pass its own gates while the alarm is still raised). The
// gate treats CORRUPT as fatal whatever this says, and nothing disarms it.
func clearedAlarms(p *model.Plan, idx []int) []string {
	var out []string
	for _, i := range idx {
		if s := p.Steps[i]; s.Action == model.DisarmAlarm && s.Alarm != "" && !slices.Contains(out, s.Alarm) {
			out = append(out, s.Alarm)
		}
	}
	return out
}

// bootstrapping reports whether p creates cluster: it observed no
// cluster there (no cluster ID) and bootstraps one.
func bootstrapping(p *model.Plan, cluster string) bool {
	for _, cf := range p.Fingerprint.Clusters {
		if cf.Name == cluster && cf.ClusterID != 0 {
			return false
		}
	}
	for _, s := range p.Steps {
		if s.Cluster == cluster && s.Action == model.BootstrapStart {
			return true
		}
	}
	return false
}

// runCluster locks one cluster, checks the plan is fresh, and runs its
// steps one at a time, each followed by the health gate (consecutive
// steps of a Concurrent action, which have no gates, together: runGroup).
func runCluster(ctx context.Context, c model.ClusterTarget, p *model.Plan, idx []int, res *Result, conn Connector, opts Options) (rerr error) {
	start := opts.Now()
	var progress sync.Mutex // the steps of a concurrent group report from their own goroutines
	report := func(e Event) {
		progress.Lock()
		defer progress.Unlock()
		e.Cluster, e.Steps, e.Elapsed = c.Name, len(idx), opts.Now().Sub(start)
		opts.Progress(e)
	}
	ev := func(step int, m string, a model.Action, phase string, err error) {
		report(Event{Step: step, Member: m, Action: a, Phase: phase, Err: err})
	}
	// The hosts are dialled while the lock is taken: the observation under
	// it needs every one of them (and under NOSPACE the host locks a
	// majority), and the steps those they name.
	release := conn.Warm(ctx, c.Name, stepTargets(p, idx))
	defer release()
	etcd, err := conn.Etcd(ctx, c)
	if err != nil {
		return fmt.Errorf("apply: cluster %s: %w", c.Name, err)
	}
	defer etcd.Close()

	x := &executor{c: c, etcd: etcd, conn: conn, opts: opts, hosts: map[string]Host{}, stamps: &stagedStamps{}}
	defer x.closeHosts()
	defer x.removeFetched()

	var lock Lock
	var hosts *hostLocks // the host locks standing in for lock: under NOSPACE, without quorum, or before a bootstrap
	// useHosts makes the host locks lockHosts took the apply's lock, or
	// says why it could not take them.
	useHosts := func(why, note string, h *hostLocks, err error) error {
		if err != nil {
			return fmt.Errorf("apply: cluster %s: could not take the apply lock: %s, and %w", c.Name, why, err)
		}
		hosts, lock = h, h
		opts.Audit.Record(AuditEntry{Kind: "lock", Cluster: c.Name, Time: opts.Now(),
			Outcome: "acquired on the hosts of " + strings.Join(hosts.hosts, ", ") + " (" + note + ")"})
		return nil
	}
	onHosts := func(why, note string, live bool) error {
		ev(0, "", 0, "locking hosts", nil)
		h, err := x.lockHosts(ctx, p, idx, live)
		return useHosts(why, note, h, err)
	}
	switch {
	case bootstrapping(p, c.Name):
		// No cluster runs yet that could hold a lock.
		if err := onHosts("the cluster does not run yet", "a new cluster", false); err != nil {
			return err
		}
	case hasAction(p, idx, model.RecoverSurvivor) || hasAction(p, idx, model.RestoreMember):
		// A cluster that lost its quorum (or is restored from a backup,
		// which needs it lost) grants no lease either.
		if err := onHosts("the cluster has no quorum", "the cluster has no quorum", false); err != nil {
			return err
		}
	default:
		ev(0, "", 0, "locking", nil)
		// A plan made under NOSPACE expects the lease to be refused: its
		// host locks are taken at once, beside the attempt, instead of
		// after the refusal. Holding them as well when the cluster does
		// grant the lease only makes the lock stricter.
		var early *hostLocks
		var earlyErr error
		earlyDone := make(chan struct{})
		if plannedUnderNoSpace(p, idx) {
			go func() {
				defer close(earlyDone)
				early, earlyErr = x.lockHosts(ctx, p, idx, true)
			}()
		} else {
			close(earlyDone)
		}
		lctx, cancel := context.WithTimeout(ctx, opts.LockTimeout)
		lock, err = etcd.Lock(lctx, c.Name)
		cancel()
		<-earlyDone
		if early != nil && err != nil && !errors.Is(err, ErrLockNoLease) {
			unlockDetached(ctx, early) // refused for another reason (held, no leader)
		}
		switch {
		case errors.Is(err, ErrLockNoLease) && (early != nil || earlyErr != nil):
			ev(0, "", 0, "locking hosts", nil)
			if err := useHosts("the cluster grants no lease (NOSPACE)", "the cluster grants no lease", early, earlyErr); err != nil {
				return err
			}
		case errors.Is(err, ErrLockNoLease):
			if err := onHosts("the cluster grants no lease (NOSPACE)", "the cluster grants no lease", true); err != nil {
				return err
			}
		case err == nil && errors.Is(earlyErr, ErrLockHeld):
			// The cluster takes writes again, but another apply holds host
			// locks: it is still recovering, and this apply must not run.
			unlockDetached(ctx, lock)
			return fmt.Errorf("apply: cluster %s: could not take the apply lock: %w", c.Name, earlyErr)
		case err == nil && early != nil:
			early.inCluster = lock
			hosts, lock = early, early
			opts.Audit.Record(AuditEntry{Kind: "lock", Cluster: c.Name, Time: opts.Now(),
				Outcome: "acquired in the cluster and on the hosts of " + strings.Join(hosts.hosts, ", ") + " (planned under NOSPACE)"})
		case errors.Is(err, ErrLockHeld):
			return fmt.Errorf("apply: cluster %s: could not take the apply lock within %s: %w", c.Name, opts.LockTimeout, err)
		case err != nil:
			// Not a holder: the cluster refused (NOSPACE, no leader, auth)
			// or did not answer, and the error says which.
			return fmt.Errorf("apply: cluster %s: could not take the apply lock: %w", c.Name, err)
		default:
			// A host lock that could not be taken for another reason than
			// another apply (a host down) does not matter beside the
			// in-cluster lock, as when none was tried.
			opts.Audit.Record(AuditEntry{Kind: "lock", Cluster: c.Name, Time: opts.Now(), Outcome: "acquired"})
		}
	}
	defer func() { unlockDetached(ctx, lock) }()
	// A failed or interrupted apply is recorded in the cluster too, as far
	// as the cluster takes writes (the audit file has it in any case).
	written := false
	defer func() {
		if written || rerr == nil {
			return
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		outcome := "failed: " + rerr.Error()
		if interrupted(ctx) {
			outcome = interruption(ctx) + ": " + rerr.Error()
		}
		_ = writeChain(wctx, etcd, c.Name, opts, outcome)
	}()

	// Stale-plan check, under the lock so nobody changes it behind us.
	ev(0, "", 0, "checking plan", nil)
	obs, err := conn.Observe(ctx, c.Name)
	if err != nil {
		return fmt.Errorf("apply: cluster %s: re-observing: %w", c.Name, err)
	}
	planned := state.Fingerprint{}
	for _, cf := range p.Fingerprint.Clusters {
		if cf.Name == c.Name {
			planned.Clusters = append(planned.Clusters, cf)
		}
	}
	if diffs := state.DiffFingerprint(planned, state.FingerprintOf(obs)); len(diffs) > 0 {
		opts.Audit.Record(AuditEntry{Kind: "stale", Cluster: c.Name, Time: opts.Now(), Outcome: strings.Join(diffs, "; ")})
		return fmt.Errorf("%w. Differences in cluster %s:\n  - %s", ErrStale, c.Name, strings.Join(diffs, "\n  - "))
	}
	if opts.Verify != nil {
		ev(0, "", 0, "deriving the steps again", nil)
		if err := opts.Verify(ctx, c.Name, obs); err != nil {
			opts.Audit.Record(AuditEntry{Kind: "stale", Cluster: c.Name, Time: opts.Now(), Outcome: err.Error()})
			return fmt.Errorf("%w: cluster %s: %w", ErrPlanDiffers, c.Name, err)
		}
	}

	// Before the first risky step, every member must hold the same data.
	hashAt := hashCheckAt(p, idx)
	next := 0 // the steps before it ran in a concurrent group
	// gated: the gate after the step before passed, and nothing ran since
	// (no wait after it, no lock, no group): the next step's gate before
	// it would ask the same members the same question again at once.
	gated := false
	for n, i := range idx {
		if n < next {
			continue
		}
		step := p.Steps[i]
		if err := lock.Check(ctx); err != nil {
			return fmt.Errorf("apply: cluster %s: lost the apply lock before step %d; stopping: %w", c.Name, n+1, err)
		}
		if n == hashAt {
			ev(n+1, step.Member, step.Action, "comparing HashKV", nil)
			hctx, cancel := context.WithTimeout(ctx, opts.GateTimeout)
			what, err := compareHashes(hctx, etcd)
			cancel()
			if err != nil {
				opts.Audit.Record(AuditEntry{Kind: "hashkv", Cluster: c.Name, Time: opts.Now(), Step: n + 1, Outcome: "failed", Error: err.Error()})
				if interrupted(ctx) {
					return fmt.Errorf("%w (%v) at cluster %s before step %d/%d (%s %s); no further steps were started: %w", ErrInterrupted, context.Cause(ctx), c.Name, n+1, len(idx), step.Action, memberLabel(step), err)
				}
				return fmt.Errorf("apply: cluster %s: before step %d/%d (%s %s), ahead of the first risky step; no further steps were started: %w", c.Name, n+1, len(idx), step.Action, memberLabel(step), err)
			}
			opts.Audit.Record(AuditEntry{Kind: "hashkv", Cluster: c.Name, Time: opts.Now(), Step: n + 1, Outcome: "agree: " + what})
			gated = false // time passed since the gate
		}
		if end := groupEnd(p, idx, n); end > n+1 {
			gated = false
			if err := x.runGroup(ctx, p, idx, n, end, res, report); err != nil {
				return err
			}
			next = end
			continue
		}
		r := &res.Steps[i]
		r.Start = opts.Now()
		r.Outcome = "running"
		x.mark = func(m Milestone, phase string, peer uint64) {
			report(Event{Step: n + 1, Member: step.Member, Action: step.Action, Phase: phase, Milestone: m, Peer: peer})
		}
		x.ev = func(phase string) { x.mark(0, phase, 0) }
		x.mark(StepStarted, "starting", 0)
		// The gates before and during a step let pass the alarms this
		// step or a later one clears; the gate after it only those a
		// later one clears, so a disarm is checked.
		etcd.TolerateAlarms(clearedAlarms(p, idx[n:]))
		x.laterDisarms = clearedAlarms(p, idx[n+1:])
		// Before the members of a new or restored cluster start, there is
		// no cluster to gate on: the steps that prepare the hosts (files,
		// binaries, configs) run without gates; the starts are gated once,
		// after the last.
		prestart := step.Action != model.BootstrapStart && hasAction(p, idx[n+1:], model.BootstrapStart)
		var err error
		if !prestart {
			err = x.preGate(ctx, step, gated)
		}
		gated = false
		if err == nil {
			err = x.run(ctx, step)
		}
		etcd.TolerateAlarms(x.laterDisarms)
		// A batch (the starts of a new cluster's members) is gated once,
		// after its last step.
		batched := step.Action.Info().Batch && n+1 < len(idx) && p.Steps[idx[n+1]].Action == step.Action
		if err == nil && step.Action.Info().After != model.GateNone && !batched && !prestart {
			x.ev("waiting for health")
			gctx, cancel := context.WithTimeout(ctx, opts.GateTimeout)
			err = etcd.WaitHealthy(gctx, 0)
			cancel()
			if err != nil {
				err = fmt.Errorf("health gate after the step did not pass within %s: %w", opts.GateTimeout, err)
			} else {
				x.mark(GatePassed, "healthy", 0)
				x.healthyAt = opts.Now()
				gated = true
			}
		}
		if err == nil && x.afterGate != nil {
			err = x.afterGate(ctx)
			gated = false // time passed since the gate
		}
		x.afterGate = nil
		r.End = opts.Now()
		entry := AuditEntry{Kind: "step", Cluster: c.Name, Step: n + 1, Action: step.Action.String(), Member: step.Member,
			Start: r.Start, End: r.End, Outcome: "done"}
		if err != nil && interrupted(ctx) {
			r.Outcome, r.Err = "interrupted", err.Error()
			entry.Outcome, entry.Error = "interrupted", interruption(ctx)+": "+err.Error()
			opts.Audit.Record(entry)
			ev(n+1, step.Member, step.Action, "interrupted", context.Cause(ctx))
			return fmt.Errorf("%w (%v) at cluster %s step %d/%d (%s %s); no further steps were started%s: %w", ErrInterrupted, context.Cause(ctx), c.Name, n+1, len(idx), step.Action, memberLabel(step), x.cancelDowngrade(ctx, c.Name), err)
		}
		if err != nil {
			r.Outcome, r.Err = "failed", err.Error()
			entry.Outcome, entry.Error = "failed", err.Error()
			opts.Audit.Record(entry)
			ev(n+1, step.Member, step.Action, "failed", err)
			return fmt.Errorf("apply: cluster %s: step %d/%d (%s %s) failed; no further steps were started%s: %w", c.Name, n+1, len(idx), step.Action, memberLabel(step), x.cancelDowngrade(ctx, c.Name), err)
		}
		r.Outcome = "done"
		opts.Audit.Record(entry)
		x.mark(StepDone, "done", 0)
		// The last disarm, or the recovery from the survivor, makes the
		// cluster take writes again: from here
		// the in-cluster lock is held too, beside the host locks.
		if hosts != nil && hosts.inCluster == nil && (step.Action == model.RecoverSurvivor ||
			step.Action == model.DisarmAlarm && len(x.laterDisarms) == 0) {
			ev(n+1, step.Member, step.Action, "locking", nil)
			lctx, cancel := context.WithTimeout(ctx, opts.LockTimeout)
			l, err := etcd.Lock(lctx, c.Name)
			cancel()
			if err != nil {
				return fmt.Errorf("apply: cluster %s: the cluster takes writes again after step %d/%d, but the in-cluster apply lock could not be taken; no further steps were started: %w", c.Name, n+1, len(idx), err)
			}
			hosts.inCluster = l
			opts.Audit.Record(AuditEntry{Kind: "lock", Cluster: c.Name, Time: opts.Now(), Outcome: "acquired in the cluster, beside the host locks"})
			gated = false
		}
	}
	// After the last step every member must hold the same data.
	cctx, cancel := context.WithTimeout(ctx, opts.GateTimeout)
	defer cancel()
	if err := etcd.CheckConsistent(cctx); err != nil {
		return fmt.Errorf("apply: cluster %s: members disagree after the apply: %w", c.Name, err)
	}
	written = true
	if err := writeChain(cctx, etcd, c.Name, opts, "success"); err != nil {
		return fmt.Errorf("apply: cluster %s: writing the in-cluster audit record: %w", c.Name, err)
	}
	return nil
}
