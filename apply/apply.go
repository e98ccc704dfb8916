package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Etcd is what apply needs of one cluster's etcd API. The production
// implementation wraps a providers/etcd client and comes from a Connector.
type Etcd interface {
	// Lock takes the cluster's apply lock, waiting until ctx ends.
	Lock(ctx context.Context, cluster string) (Lock, error)
	// Leader returns the current leader's member ID, fresh.
	Leader(ctx context.Context) (uint64, error)
	// MoveLeaderAway transfers leadership from id to a healthy, caught-up
	// voter when id leads; it does nothing otherwise.
	MoveLeaderAway(ctx context.Context, id uint64) error
	// AddLearner adds peerURL as a learner and returns its ID and the
	// live member list (name -> peer URL; the new member has no name yet).
	AddLearner(ctx context.Context, peerURL string) (uint64, []LiveMember, error)
	Promote(ctx context.Context, id uint64) error
	Remove(ctx context.Context, id uint64) error
	MemberID(ctx context.Context, name, peerURL string) (uint64, error)
	// WaitHealthy waits for the health gate to pass (fresh checks each
	// time) or ctx to end, returning the last failing report. A non-zero
	// except is a member the gate does not require (the subject of the
	// step about to run).
	WaitHealthy(ctx context.Context, except uint64) error
	WaitLearnerCaughtUp(ctx context.Context, id uint64) error
	// Snapshot streams a snapshot to w and verifies its trailing hash.
	Snapshot(ctx context.Context, w io.Writer) (size int64, sha string, err error)
	// CheckConsistent compares HashKV at one revision on every member.
	CheckConsistent(ctx context.Context) error
	PutAudit(ctx context.Context, key string, value []byte) error
	Close() error
}

// Lock is a held apply lock.
type Lock interface {
	// Check fails when the lock's lease is gone: the apply must stop.
	Check(ctx context.Context) error
	Unlock(ctx context.Context) error
}

// LiveMember is one entry of the live member list.
type LiveMember struct {
	ID      uint64
	Name    string
	PeerURL string
}

// Host is what apply needs of one member's host. The production
// implementation is providers/ssh.
type Host interface {
	// WriteFile replaces path atomically, keeping owner and mode and the
	// previous file as a backup.
	WriteFile(ctx context.Context, path string, data []byte, mode uint32) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Restart(ctx context.Context) error
	// Disable keeps the service manager from starting the service by
	// itself (at boot); Enable undoes it. Neither starts or stops it.
	Disable(ctx context.Context) error
	Enable(ctx context.Context) error
	// Run runs a shell command and returns its combined output; a
	// non-zero exit is an error.
	Run(ctx context.Context, cmd string) (string, error)
	Close() error
}

// Connector opens the connections apply uses.
type Connector interface {
	Etcd(ctx context.Context, c *schema.Cluster) (Etcd, error)
	Host(ctx context.Context, c *schema.Cluster, m *schema.Member) (Host, error)
	// Observe re-observes the clusters for the stale-plan check.
	Observe(ctx context.Context, cfg *schema.Config) (*state.Observed, error)
}

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
	Progress    func(Event)
	Now         func() time.Time

	// Backup, when non-nil, takes the pre-change snapshot of a cluster
	// that has a backup block through the backup job's own code path
	// (checked, encrypted, uploaded to its destination, recorded) instead
	// of into SnapshotDir.
	Backup func(ctx context.Context, c *schema.Cluster) error
}

// Event is a progress report.
type Event struct {
	Cluster string
	Step    int // 1-based; 0 for cluster-level phases (lock, stale check)
	Steps   int
	Member  string
	Action  plan.Action
	Phase   string // "locking", "checking plan", "writing config", "restarting", "waiting for health", "done", "failed", "interrupted"
	Elapsed time.Duration
	Err     error
}

// ErrStale is returned when the cluster changed since the plan was made.
var ErrStale = errors.New("apply: the cluster changed since the plan was made; run plan again")

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
	Step    plan.Step
	Outcome string // "done", "failed", "interrupted", "not started"
	Start   time.Time
	End     time.Time
	Err     string
}

// Run carries out p against the clusters of cfg. It stops at the first
// failing step and takes no further action; res then says which steps ran.
func Run(ctx context.Context, cfg *schema.Config, p *plan.Plan, conn Connector, opts Options) (res *Result, err error) {
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
	if p.Meta.ConfigHash != "" && cfg.Hash != p.Meta.ConfigHash {
		return res, fmt.Errorf("apply: the configuration in %s changed since the plan was made (hash %.12s, planned %.12s); run plan again", cfg.Dir, cfg.Hash, p.Meta.ConfigHash)
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
		c := findCluster(cfg, name)
		if c == nil {
			return res, fmt.Errorf("apply: the plan names cluster %q, which the configuration does not declare", name)
		}
		if err := runCluster(ctx, cfg, c, p, idx, res, conn, opts); err != nil {
			return res, err
		}
	}
	return res, nil
}

func findCluster(cfg *schema.Config, name string) *schema.Cluster {
	for _, c := range cfg.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// runCluster locks one cluster, checks the plan is fresh, and runs its
// steps one at a time, each followed by the health gate.
func runCluster(ctx context.Context, cfg *schema.Config, c *schema.Cluster, p *plan.Plan, idx []int, res *Result, conn Connector, opts Options) error {
	start := opts.Now()
	ev := func(step int, m string, a plan.Action, phase string, err error) {
		opts.Progress(Event{Cluster: c.Name, Step: step, Steps: len(idx), Member: m, Action: a, Phase: phase, Elapsed: opts.Now().Sub(start), Err: err})
	}
	etcd, err := conn.Etcd(ctx, c)
	if err != nil {
		return fmt.Errorf("apply: cluster %s: %w", c.Name, err)
	}
	defer etcd.Close()

	ev(0, "", 0, "locking", nil)
	lctx, cancel := context.WithTimeout(ctx, opts.LockTimeout)
	lock, err := etcd.Lock(lctx, c.Name)
	cancel()
	if err != nil {
		return fmt.Errorf("apply: cluster %s: could not take the apply lock within %s (another apply is running?): %w", c.Name, opts.LockTimeout, err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = lock.Unlock(uctx)
	}()
	opts.Audit.Record(AuditEntry{Kind: "lock", Cluster: c.Name, Time: opts.Now(), Outcome: "acquired"})

	// Stale-plan check, under the lock so nobody changes it behind us.
	ev(0, "", 0, "checking plan", nil)
	obs, err := conn.Observe(ctx, &schema.Config{Dir: cfg.Dir, Clusters: []*schema.Cluster{c}})
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

	x := &executor{c: c, etcd: etcd, conn: conn, opts: opts, hosts: map[string]Host{}}
	defer x.closeHosts()
	for n, i := range idx {
		step := p.Steps[i]
		if err := lock.Check(ctx); err != nil {
			return fmt.Errorf("apply: cluster %s: lost the apply lock before step %d; stopping: %w", c.Name, n+1, err)
		}
		r := &res.Steps[i]
		r.Start = opts.Now()
		r.Outcome = "running"
		ev(n+1, step.Member, step.Action, "starting", nil)
		x.ev = func(phase string) { ev(n+1, step.Member, step.Action, phase, nil) }
		err := x.preGate(ctx, step)
		if err == nil {
			err = x.run(ctx, step)
		}
		if err == nil && step.Action.Info().After != plan.GateNone {
			x.ev("waiting for health")
			gctx, cancel := context.WithTimeout(ctx, opts.GateTimeout)
			err = etcd.WaitHealthy(gctx, 0)
			cancel()
			if err != nil {
				err = fmt.Errorf("health gate after the step did not pass within %s: %w", opts.GateTimeout, err)
			}
		}
		r.End = opts.Now()
		entry := AuditEntry{Kind: "step", Cluster: c.Name, Step: n + 1, Action: step.Action.String(), Member: step.Member,
			Start: r.Start, End: r.End, Outcome: "done"}
		if err != nil && interrupted(ctx) {
			r.Outcome, r.Err = "interrupted", err.Error()
			entry.Outcome, entry.Error = "interrupted", interruption(ctx)+": "+err.Error()
			opts.Audit.Record(entry)
			ev(n+1, step.Member, step.Action, "interrupted", context.Cause(ctx))
			return fmt.Errorf("%w (%v) at cluster %s step %d/%d (%s %s); no further steps were started: %w", ErrInterrupted, context.Cause(ctx), c.Name, n+1, len(idx), step.Action, memberLabel(step), err)
		}
		if err != nil {
			r.Outcome, r.Err = "failed", err.Error()
			entry.Outcome, entry.Error = "failed", err.Error()
			opts.Audit.Record(entry)
			ev(n+1, step.Member, step.Action, "failed", err)
			return fmt.Errorf("apply: cluster %s: step %d/%d (%s %s) failed; no further steps were started: %w", c.Name, n+1, len(idx), step.Action, memberLabel(step), err)
		}
		r.Outcome = "done"
		opts.Audit.Record(entry)
		ev(n+1, step.Member, step.Action, "done", nil)
	}
	// After the last step every member must hold the same data.
	cctx, cancel := context.WithTimeout(ctx, opts.GateTimeout)
	defer cancel()
	if err := etcd.CheckConsistent(cctx); err != nil {
		return fmt.Errorf("apply: cluster %s: members disagree after the apply: %w", c.Name, err)
	}
	summary := opts.Audit.Summary(c.Name)
	if err := etcd.PutAudit(cctx, AuditKey(c.Name, opts.Now()), summary); err != nil {
		return fmt.Errorf("apply: cluster %s: writing the in-cluster audit record: %w", c.Name, err)
	}
	return nil
}

func memberLabel(s plan.Step) string {
	if s.Member != "" {
		return s.Member
	}
	if s.MemberID != 0 {
		return fmt.Sprintf("member %x", s.MemberID)
	}
	return "cluster " + s.Cluster
}

// executor carries out the steps of one cluster.
type executor struct {
	c       *schema.Cluster
	etcd    Etcd
	conn    Connector
	opts    Options
	hosts   map[string]Host
	ev      func(phase string)
	learner uint64 // ID returned by the last AddLearner, for its Promote
}

func (x *executor) host(ctx context.Context, name string) (Host, error) {
	if h, ok := x.hosts[name]; ok {
		return h, nil
	}
	m := x.c.Member(name)
	if m == nil {
		return nil, fmt.Errorf("member %s is not in the configuration, so its host is unknown", name)
	}
	h, err := x.conn.Host(ctx, x.c, m)
	if err != nil {
		return nil, fmt.Errorf("member %s: host %s: %w", name, m.Host, err)
	}
	x.hosts[name] = h
	return h, nil
}

func (x *executor) closeHosts() {
	for _, h := range x.hosts {
		h.Close()
	}
}

// preGate checks, fresh, that the cluster is healthy before a step takes a
// member down or changes membership (the action's Before gate): a member
// that failed since the last gate (or since the plan) must stop the apply
// here, not be discovered after a second member is down. With GateOthers
// the step's own member is not required.
func (x *executor) preGate(ctx context.Context, s plan.Step) error {
	gate := s.Action.Info().Before
	if gate == plan.GateNone {
		return nil
	}
	var except uint64
	if gate == plan.GateOthers {
		id, err := x.memberID(ctx, s)
		if err != nil {
			return err
		}
		except = id
	}
	x.ev("checking health before the step")
	gctx, cancel := context.WithTimeout(ctx, x.opts.GateTimeout)
	defer cancel()
	if err := x.etcd.WaitHealthy(gctx, except); err != nil {
		return fmt.Errorf("the cluster was not healthy before the step, so it was not started (waited %s): %w", x.opts.GateTimeout, err)
	}
	return nil
}

// handler carries out one step's own work; apply runs the action's gates
// around it (plan.ActionInfo).
type handler func(x *executor, ctx context.Context, s plan.Step) error

// handlers holds the handler of every action in the actions table
// (plan.Actions); TestActionTable checks that none is missing.
var handlers = map[plan.Action]handler{
	plan.Snapshot:         (*executor).snapshotStep,
	plan.StartMember:      (*executor).start,
	plan.AddLearner:       (*executor).addLearner,
	plan.Promote:          (*executor).promote,
	plan.RemoveMember:     (*executor).remove,
	plan.UploadFile:       (*executor).upload,
	plan.InstallBackupJob: (*executor).backupJob,
	plan.WriteConfig:      (*executor).writeConfig,
	plan.Restart:          (*executor).restart,
}

// HasHandler reports whether apply can carry out steps of action a.
func HasHandler(a plan.Action) bool { return handlers[a] != nil }

func (x *executor) run(ctx context.Context, s plan.Step) error {
	h := handlers[s.Action]
	if h == nil {
		return fmt.Errorf("apply: unknown action %q", s.Action)
	}
	timeout := x.opts.StepTimeout
	if s.Action.Info().Timeout == plan.TimeoutBackupRun && s.Job != nil && s.Job.Run {
		timeout += x.opts.BackupRunTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return h(x, ctx, s)
}

func (x *executor) snapshotStep(ctx context.Context, s plan.Step) error {
	x.ev("taking snapshot")
	return x.snapshot(ctx)
}

func (x *executor) writeConfig(ctx context.Context, s plan.Step) error {
	h, err := x.host(ctx, s.Member)
	if err != nil {
		return err
	}
	x.ev("writing config")
	return h.WriteFile(ctx, x.c.Service.ConfigFile, s.Config, 0o644)
}

func (x *executor) start(ctx context.Context, s plan.Step) error {
	h, err := x.host(ctx, s.Member)
	if err != nil {
		return err
	}
	x.ev("starting")
	return h.Start(ctx)
}

func (x *executor) restart(ctx context.Context, s plan.Step) error {
	h, err := x.host(ctx, s.Member)
	if err != nil {
		return err
	}
	if _, err := x.handOver(ctx, s); err != nil {
		return err
	}
	x.ev("restarting")
	return h.Restart(ctx)
}

func (x *executor) promote(ctx context.Context, s plan.Step) error {
	id := s.MemberID
	if id == 0 {
		id = x.learner
	}
	if id == 0 {
		return fmt.Errorf("promote %s: no learner ID (the add step did not run in this apply)", s.Member)
	}
	x.ev("waiting for the learner to catch up")
	if err := x.etcd.WaitLearnerCaughtUp(ctx, id); err != nil {
		return err
	}
	x.ev("promoting")
	return x.etcd.Promote(ctx, id)
}

func (x *executor) memberID(ctx context.Context, s plan.Step) (uint64, error) {
	if s.MemberID != 0 {
		return s.MemberID, nil
	}
	m := x.c.Member(s.Member)
	peer := ""
	if m != nil {
		peer = m.PeerURL
	}
	return x.etcd.MemberID(ctx, s.Member, peer)
}

// addLearner preflights the new host, adds the member as a learner, writes
// its config with the live member list, and starts it. The Promote step
// that follows waits for catch-up and promotes.
func (x *executor) addLearner(ctx context.Context, s plan.Step) error {
	m := x.c.Member(s.Member)
	if m == nil {
		return fmt.Errorf("add %s: not in the configuration", s.Member)
	}
	h, err := x.host(ctx, s.Member)
	if err != nil {
		return err
	}
	x.ev("preflight")
	if err := x.preflight(ctx, h, m); err != nil {
		return fmt.Errorf("preflight of %s (%s) failed, nothing was changed: %w", m.Name, m.Host, err)
	}
	// A host whose member was removed before has its service disabled.
	if err := h.Enable(ctx); err != nil {
		return fmt.Errorf("enabling the etcd service on %s failed, nothing else was changed: %w", m.Host, err)
	}
	if _, err := etcdconf.Marshal(etcdconf.Render(x.c, m, etcdconf.Bootstrap{State: "existing"})); err != nil {
		return fmt.Errorf("the config of %s cannot be written, nothing was changed: %w", m.Name, err)
	}
	x.ev("adding learner")
	id, live, err := x.etcd.AddLearner(ctx, m.PeerURL)
	if err != nil {
		return err
	}
	x.learner = id
	peers := map[string]string{m.Name: m.PeerURL}
	for _, lm := range live {
		if lm.ID != id && lm.Name != "" {
			peers[lm.Name] = lm.PeerURL
		}
	}
	f := etcdconf.Render(x.c, m, etcdconf.Bootstrap{InitialCluster: etcdconf.InitialCluster(peers), Token: x.c.Name, State: "existing"})
	x.ev("writing config")
	b, err := etcdconf.Marshal(f)
	if err == nil {
		err = h.WriteFile(ctx, x.c.Service.ConfigFile, b, 0o644)
	}
	if err != nil {
		return fmt.Errorf("member %s was added as learner %x but its config could not be written (remove it with etcdctl member remove %x, or run plan again): %w", m.Name, id, id, err)
	}
	x.ev("starting")
	if err := h.Start(ctx); err != nil {
		return fmt.Errorf("member %s was added as learner %x but did not start: %w", m.Name, id, err)
	}
	return nil
}

// preflight checks a new member's host: the binary at the expected version,
// an empty data dir, and a free peer port.
func (x *executor) preflight(ctx context.Context, h Host, m *schema.Member) error {
	svc := x.c.Service
	out, err := h.Run(ctx, fmt.Sprintf("%s --version 2>/dev/null | head -1", shellQuote(svc.Binary)))
	if err != nil || !strings.Contains(out, "etcd Version:") {
		return fmt.Errorf("no etcd binary at %s", svc.Binary)
	}
	if v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "etcd Version:")); x.c.EtcdVersion != "" && v != x.c.EtcdVersion {
		return fmt.Errorf("%s is etcd %s, the configuration wants %s", svc.Binary, v, x.c.EtcdVersion)
	}
	// What an earlier removal moved aside does not count.
	out, err = h.Run(ctx, fmt.Sprintf("ls -A %s 2>/dev/null | grep -v '^%s' | head -1", shellQuote(svc.DataDir), strings.ReplaceAll(AsidePrefix, ".", `\.`)))
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) != "" {
		return fmt.Errorf("data dir %s is not empty: a new member must start from an empty data dir", svc.DataDir)
	}
	port := portOf(m.PeerURL)
	out, err = h.Run(ctx, fmt.Sprintf("ss -Hltn 'sport = :%s' 2>/dev/null | head -1", port))
	if err == nil && strings.TrimSpace(out) != "" {
		return fmt.Errorf("peer port %s is already in use on %s", port, m.Host)
	}
	return nil
}

// handOver finds the step's member and, if it leads now (whoever leads
// when its turn comes, not who led at plan time), moves leadership away.
func (x *executor) handOver(ctx context.Context, s plan.Step) (uint64, error) {
	id, err := x.memberID(ctx, s)
	if err != nil {
		return 0, err
	}
	x.ev("moving leadership")
	return id, x.etcd.MoveLeaderAway(ctx, id)
}

func (x *executor) remove(ctx context.Context, s plan.Step) error {
	id, err := x.handOver(ctx, s)
	if err != nil {
		return err
	}
	x.ev("removing member")
	if err := x.etcd.Remove(ctx, id); err != nil {
		return err
	}
	if s.HostDown || x.c.Member(s.Member) == nil && s.Member == "" {
		return nil
	}
	h, err := x.hostForRemoved(ctx, s)
	if err != nil || h == nil {
		return err
	}
	// Removed from the list first, as etcd's runtime reconfiguration
	// guide does it: the voter count shrinks in one step, where stopping
	// first would leave a voter down (less tolerance) while the removal is
	// proposed. A removed etcd exits by itself and its service manager
	// would restart it over and over: stop it, and disable it so that a
	// reboot does not start it either.
	x.ev("stopping service")
	if err := h.Stop(ctx); err != nil {
		return fmt.Errorf("member %s was removed but its service did not stop: %w", s.Member, err)
	}
	x.ev("disabling service")
	if err := h.Disable(ctx); err != nil {
		return fmt.Errorf("member %s was removed and stopped, but its service could not be disabled (its service manager may start it again at boot): %w", s.Member, err)
	}
	// Never delete a data dir: move its member/ aside, inside the data
	// dir (one file system, so a rename), to a timestamped name that a
	// later add-learner on this host ignores.
	dd := x.c.Service.DataDir
	aside := dd + "/" + AsidePrefix + x.opts.Now().UTC().Format("20060102T150405Z")
	x.ev("moving data dir aside")
	if _, err := h.Run(ctx, fmt.Sprintf("if [ -d %[1]s/member ]; then if [ -e %[2]s ]; then echo %[2]s exists >&2; exit 1; fi; mv %[1]s/member %[2]s; fi", shellQuote(dd), shellQuote(aside))); err != nil {
		return fmt.Errorf("member %s was removed, stopped and disabled, but its data dir's member/ was not moved aside (move it by hand before adding a member on this host): %w", s.Member, err)
	}
	return nil
}

// AsidePrefix starts the name under which remove-member moves a removed
// member's data (DATA_DIR/member) aside, inside the data dir; a timestamp
// follows ("member.removed-20261202T061000Z"). Entries with this prefix do
// not make a data dir count as in use for a new member.
const AsidePrefix = "member.removed-"

// RemovedMember describes the host of a member that is not in the
// configuration, found from its peer URL and reached with the cluster's
// connection defaults; nil when the URL names no host.
func RemovedMember(c *schema.Cluster, name, peerURL string) *schema.Member {
	hostname := hostOf(peerURL)
	if hostname == "" {
		return nil
	}
	return &schema.Member{Name: name, Host: hostname, PeerURL: peerURL, Connection: c.Connection}
}

// hostForRemoved returns the host of a member being removed. A removed
// member is usually no longer in the configuration; its host is then found
// from its peer URL with the cluster's connection defaults.
func (x *executor) hostForRemoved(ctx context.Context, s plan.Step) (Host, error) {
	if m := x.c.Member(s.Member); m != nil {
		return x.host(ctx, s.Member)
	}
	m := RemovedMember(x.c, s.Member, s.PeerURL)
	if m == nil {
		return nil, nil
	}
	h, err := x.conn.Host(ctx, x.c, m)
	if err != nil {
		return nil, fmt.Errorf("member %s was removed, but its host %s could not be reached to stop it: %w", s.Member, m.Host, err)
	}
	x.hosts[s.Member] = h
	return h, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
