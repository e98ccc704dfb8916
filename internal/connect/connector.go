package connect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/plan"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Connector gives apply real connections: providers/etcd for the cluster
// and providers/ssh for hosts, from the targets the plan names.
type Connector struct {
	// LockTTL is the apply lock's lease TTL (default 15s): a crashed apply
	// releases the lock when its lease expires.
	LockTTL int
	// Config is the configuration the plan was checked against; Observe
	// re-observes its clusters for the stale-plan check.
	Config *schema.Config
	// Down, when set, is shared by the re-observation and the etcd client
	// of the apply (and the command's own observations), so that a member
	// known to be dead costs one endpoint timeout per apply (etcd.Down).
	Down *Down
	// Hosts, when set, holds the apply's SSH connections, one per host:
	// Warm, Host and Observe (the stale-plan check under the lock) share
	// them; the release Warm returns closes them at the end of each
	// cluster's apply, and the caller closes the pool (HostPool.Close)
	// after the apply.
	Hosts *HostPool
}

var _ apply.Connector = Connector{}

// Etcd connects to the cluster's client endpoints, with the tool's TLS
// files the plan names (the environment overrides them one by one).
func (c Connector) Etcd(ctx context.Context, ct plan.ClusterTarget) (apply.Etcd, error) {
	eps := ct.Endpoints
	opts, err := clientOptions(ct)
	if err != nil {
		return nil, err
	}
	aopts, err := authOptions(clusterNamed(c.Config, ct.Name))
	if err != nil {
		return nil, err
	}
	opts = append(opts, aopts...)
	if cfg, _ := TargetTLS(ct); cfg != nil {
		if err := ProbeTLS(ctx, eps, cfg); err != nil {
			return nil, err
		}
	}
	// Gates poll every 100 ms: each step waits on health, so the poll
	// period is added to every step's time.
	cli, err := etcdp.New(eps, append(opts, etcdp.WithPollInterval(100*time.Millisecond), etcdp.WithDown(c.Down.Cluster(ct.Name)))...)
	if err != nil {
		return nil, err
	}
	ttl := c.LockTTL
	if ttl == 0 {
		ttl = 15
	}
	return &etcdAdapter{cli: cli, ttl: ttl}, nil
}

// Warm starts connecting, in the background, to the hosts of the named
// cluster's members and to those of the targets: every apply observes
// every member's host under its lock, so each would be dialled anyway,
// and a dial started while the in-cluster lock is taken is one the host
// locks, the observation and the first step do not wait for in full. A
// failed dial is reported to whoever needs the host, not here. The
// function it returns closes the pool's connections, at the end of the
// cluster's apply. Without a pool (Hosts) it does nothing.
func (c Connector) Warm(_ context.Context, cluster string, targets []plan.Target) (release func()) {
	if c.Hosts == nil {
		return func() {}
	}
	if cl := clusterNamed(c.Config, cluster); cl != nil {
		for _, m := range cl.Members {
			c.Hosts.warm(plan.HostAddrOf(m))
		}
	}
	for _, t := range targets {
		c.Hosts.warm(t.Host)
	}
	return c.Hosts.Release
}

// Host connects to a step's host and its service manager: through the
// pool (Hosts) when the connector has one, which then keeps the
// connection.
func (c Connector) Host(ctx context.Context, t plan.Target) (apply.Host, error) {
	cli, release, err := c.Hosts.dial(ctx, t.Host)
	if err != nil {
		return nil, err
	}
	svc := t.Service
	mgr, err := sshp.NewServiceManager(cli, svc.Manager, svc.Name, sshp.Commands{
		Start: svc.StartCommand, Stop: svc.StopCommand, Status: svc.StatusCommand, Restart: svc.RestartCommand,
	}, svc.StopTimeout)
	if err != nil {
		release()
		return nil, err
	}
	return &hostAdapter{cli: cli, mgr: mgr, release: release}, nil
}

// Observe re-observes the named cluster of c.Config for the stale-plan
// check.
func (c Connector) Observe(ctx context.Context, cluster string) (*state.Observed, error) {
	if c.Config == nil {
		return nil, fmt.Errorf("no configuration to observe cluster %s with", cluster)
	}
	for _, cl := range c.Config.Clusters {
		if cl.Name == cluster {
			return Observe(ctx, &schema.Config{Dir: c.Config.Dir, Clusters: []*schema.Cluster{cl}}, Options{Down: c.Down, Hosts: c.Hosts}), nil
		}
	}
	return nil, fmt.Errorf("the configuration in %s does not declare cluster %s", c.Config.Dir, cluster)
}

type hostAdapter struct {
	cli     *sshp.Client
	mgr     sshp.ServiceManager
	release func() // closes cli, unless the pool keeps it
}

func (h *hostAdapter) Preflight(ctx context.Context, p apply.Preflight) error {
	return h.cli.Preflight(ctx, sshp.Preflight(p))
}
func (h *hostAdapter) MoveAside(ctx context.Context, from, aside string) error {
	return h.cli.MoveAside(ctx, from, aside)
}
func (h *hostAdapter) InstallFiles(ctx context.Context, files []apply.File) error {
	return h.cli.InstallFiles(ctx, sshFiles(files))
}
func (h *hostAdapter) StageFiles(ctx context.Context, files []apply.File) ([]apply.Staged, error) {
	staged, err := h.cli.StageFiles(ctx, sshFiles(files))
	out := make([]apply.Staged, len(staged))
	for i, f := range staged {
		out[i] = apply.Staged(f)
	}
	return out, err
}
func (h *hostAdapter) SwapStaged(ctx context.Context, files []apply.Staged) error {
	out := make([]sshp.Staged, len(files))
	for i, f := range files {
		out[i] = sshp.Staged(f)
	}
	return h.cli.SwapStaged(ctx, out)
}
func (h *hostAdapter) InstallJob(ctx context.Context, j apply.Job) error {
	return h.cli.InstallJob(ctx, sshp.Job{Files: sshFiles(j.Files), Dirs: j.Dirs, Timer: j.Timer, StopTimers: j.StopTimers, Remove: j.Remove})
}
func (h *hostAdapter) RunJob(ctx context.Context, r apply.JobRun) error {
	return h.cli.RunJob(ctx, sshp.JobRun(r))
}
func (h *hostAdapter) InstallService(ctx context.Context, s apply.ServiceInstall) error {
	return h.cli.InstallService(ctx, sshp.ServiceInstall(s))
}
func (h *hostAdapter) Launch(ctx context.Context) error { return h.mgr.Launch(ctx) }
func (h *hostAdapter) ClientConnections(ctx context.Context, ports []int) (int, error) {
	return h.cli.ClientConnections(ctx, ports)
}
func (h *hostAdapter) Restore(ctx context.Context, r apply.Restore) error {
	return h.cli.Restore(ctx, sshp.Restore(r))
}
func (h *hostAdapter) CheckV2Store(ctx context.Context, etcdutl, dataDir string) error {
	return h.cli.CheckV2Store(ctx, etcdutl, dataDir)
}
func (h *hostAdapter) Start(ctx context.Context) error   { return h.mgr.Start(ctx) }
func (h *hostAdapter) Stop(ctx context.Context) error    { return h.mgr.Stop(ctx) }
func (h *hostAdapter) Restart(ctx context.Context) error { return h.mgr.Restart(ctx) }
func (h *hostAdapter) Disable(ctx context.Context) error { return h.mgr.Disable(ctx) }
func (h *hostAdapter) Enable(ctx context.Context) error  { return h.mgr.Enable(ctx) }
func (h *hostAdapter) Status(ctx context.Context) (string, error) {
	st, err := h.mgr.State(ctx)
	return string(st), err
}

// Lock takes the host's apply lock file (sshp.DefaultLockFile).
func (h *hostAdapter) Lock(ctx context.Context, owner string) (apply.Lock, error) {
	l, err := h.cli.Lock(ctx, "", owner)
	if errors.Is(err, sshp.ErrHostLockHeld) {
		return nil, fmt.Errorf("%w: %w", apply.ErrLockHeld, err)
	}
	if err != nil {
		return nil, err
	}
	return hostLock{l}, nil
}

// hostLock is an sshp.HostLock as an apply.Lock.
type hostLock struct{ l *sshp.HostLock }

func (l hostLock) Check(context.Context) error      { return l.l.Check() }
func (l hostLock) Unlock(ctx context.Context) error { return l.l.Release(ctx) }

func sshFiles(files []apply.File) []sshp.File {
	out := make([]sshp.File, len(files))
	for i, f := range files {
		out[i] = sshp.File(f)
	}
	return out
}

func (h *hostAdapter) Close() error {
	h.release()
	return nil
}

type etcdAdapter struct {
	cli      *etcdp.Client
	ttl      int
	tolerate []string // alarm types the gates let pass
}

func (e *etcdAdapter) Close() error { return e.cli.Close() }

func (e *etcdAdapter) Lock(ctx context.Context, cluster string) (apply.Lock, error) {
	l, err := e.cli.Lock(ctx, cluster, secondsDur(e.ttl))
	if errors.Is(err, etcdp.ErrLockTimeout) {
		return nil, fmt.Errorf("%w: %w", apply.ErrLockHeld, err)
	}
	if etcdp.IsNoSpace(err) {
		// An apply that held the lock before the alarm still holds it.
		who, herr := e.cli.LockHolder(ctx, cluster)
		if herr != nil {
			return nil, fmt.Errorf("%w (%w), and who holds the lock is unknown: %w", err, apply.ErrLockNoLease, herr)
		}
		if who != "" {
			return nil, fmt.Errorf("%w: cluster %s is held by %s (the cluster grants no lease: %w)", apply.ErrLockHeld, cluster, who, err)
		}
		return nil, fmt.Errorf("%w: %w", apply.ErrLockNoLease, err)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Leader asks only what it needs (the member list and fresh statuses), not
// a whole Observe. No leader at this moment is 0, not an error: the health
// gates judge that.
func (e *etcdAdapter) Leader(ctx context.Context) (uint64, error) {
	id, _, err := e.cli.Leader(ctx)
	if errors.Is(err, etcdp.ErrNoLeader) {
		return 0, nil
	}
	return id, err
}

func (e *etcdAdapter) Transferee(ctx context.Context, id uint64) (uint64, error) {
	leader, err := e.Leader(ctx)
	if err != nil || leader != id {
		return 0, err
	}
	to, err := e.cli.PickTransferee(ctx, id, e.tolerate...)
	if err != nil {
		return 0, fmt.Errorf("moving leadership away from %x: %w", id, err)
	}
	return to, nil
}

func (e *etcdAdapter) MoveLeader(ctx context.Context, to uint64) error {
	return e.cli.MoveLeader(ctx, to)
}

func (e *etcdAdapter) AddLearner(ctx context.Context, peerURL string) (uint64, []apply.LiveMember, error) {
	id, members, err := e.cli.AddLearner(ctx, peerURL)
	if err != nil {
		return 0, nil, err
	}
	var out []apply.LiveMember
	for _, m := range members {
		pu := ""
		if len(m.PeerURLs) > 0 {
			pu = m.PeerURLs[0]
		}
		out = append(out, apply.LiveMember{ID: m.ID, Name: m.Name, PeerURL: pu})
	}
	return id, out, nil
}

func (e *etcdAdapter) Members(ctx context.Context) ([]apply.LiveMember, error) {
	ms, _, err := e.cli.Members(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]apply.LiveMember, 0, len(ms))
	for _, m := range ms {
		pu := ""
		if len(m.PeerURLs) > 0 {
			pu = m.PeerURLs[0]
		}
		out = append(out, apply.LiveMember{ID: m.ID, Name: m.Name, PeerURL: pu, IsLearner: m.IsLearner})
	}
	return out, nil
}

func (e *etcdAdapter) Promote(ctx context.Context, id uint64) error { return e.cli.Promote(ctx, id) }
func (e *etcdAdapter) Remove(ctx context.Context, id uint64) error  { return e.cli.Remove(ctx, id) }

func (e *etcdAdapter) MemberID(ctx context.Context, name, peerURL string) (uint64, error) {
	ms, _, err := e.cli.Members(ctx)
	if err != nil {
		return 0, err
	}
	for _, m := range ms {
		if m.Name == name && name != "" {
			return m.ID, nil
		}
		for _, u := range m.PeerURLs {
			if peerURL != "" && u == peerURL {
				return m.ID, nil
			}
		}
	}
	return 0, fmt.Errorf("member %s (%s) is not in the live member list", name, peerURL)
}

func (e *etcdAdapter) ClientURLs(ctx context.Context, id uint64) ([]string, error) {
	ms, _, err := e.cli.Members(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m.ClientURLs, nil
		}
	}
	return nil, fmt.Errorf("member %x is not in the live member list", id)
}

func (e *etcdAdapter) WaitHealthy(ctx context.Context, except uint64) error {
	_, err := e.cli.WaitHealthy(ctx, etcdp.GateOptions{MaxIndexLag: 1000, Exclude: except, Tolerate: e.tolerate})
	return err
}

func (e *etcdAdapter) TolerateAlarms(types []string) { e.tolerate = types }

func (e *etcdAdapter) WaitLearnerCaughtUp(ctx context.Context, id uint64, newMember bool) error {
	err := e.cli.WaitLearnerCaughtUp(ctx, id, newMember)
	if errors.Is(err, etcdp.ErrLearnerSilent) {
		return fmt.Errorf("%w: %w", apply.ErrLearnerSilent, err)
	}
	return err
}

func (e *etcdAdapter) Snapshot(ctx context.Context, w io.Writer) (int64, string, error) {
	// Stream to a temporary file first so the trailing hash can be
	// verified before anything is called a snapshot.
	tmp, err := os.CreateTemp("", "etcdform-snap-*.db")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	info, err := e.cli.Snapshot(ctx, "", tmp)
	if err != nil {
		return 0, "", err
	}
	if err := tmp.Sync(); err != nil {
		return 0, "", err
	}
	if err := etcdp.VerifySnapshot(tmp.Name()); err != nil {
		return 0, "", fmt.Errorf("snapshot %s failed verification: %w", filepath.Base(tmp.Name()), err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, "", err
	}
	n, err := io.Copy(w, tmp)
	return n, info.SHA256, err
}

func (e *etcdAdapter) CheckConsistent(ctx context.Context) error { return e.cli.CheckConsistent(ctx) }
func (e *etcdAdapter) MemberHashes(ctx context.Context) (int64, []apply.MemberHash, error) {
	rev, hs, err := e.cli.MemberHashes(ctx)
	out := make([]apply.MemberHash, len(hs))
	for i, h := range hs {
		out[i] = apply.MemberHash{ID: h.ID, Name: h.Name, Hash: h.Hash, CompactRevision: h.CompactRevision, Err: h.Err}
	}
	return rev, out, err
}
func (e *etcdAdapter) MemberVersion(ctx context.Context, id uint64) (string, error) {
	return e.cli.MemberVersion(ctx, id)
}

func (e *etcdAdapter) Versions(ctx context.Context) (apply.ClusterVersions, error) {
	v, err := e.cli.Versions(ctx)
	out := apply.ClusterVersions{Cluster: v.Cluster}
	for _, m := range v.Members {
		mv := apply.MemberVersions{ID: m.Member.ID, Name: m.Member.Name, IsLearner: m.Member.IsLearner, Server: m.Server, Storage: m.Storage}
		if m.Err != nil {
			mv.Err = m.Err.Error()
		}
		out.Members = append(out.Members, mv)
	}
	return out, err
}

func (e *etcdAdapter) Downgrade(ctx context.Context, op apply.DowngradeOp, target string) error {
	var o etcdp.DowngradeOp
	switch op {
	case apply.DowngradeValidate:
		o = etcdp.DowngradeValidate
	case apply.DowngradeEnable:
		o = etcdp.DowngradeEnable
	case apply.DowngradeCancel:
		o = etcdp.DowngradeCancel
	default:
		return fmt.Errorf("unknown downgrade request %v", op)
	}
	_, err := e.cli.Downgrade(ctx, o, target)
	if errors.Is(err, etcdp.ErrDowngradeRefused) {
		return fmt.Errorf("%w: %w", apply.ErrDowngradeRefused, err)
	}
	return err
}

func (e *etcdAdapter) PutAudit(ctx context.Context, key string, value []byte) error {
	return e.cli.PutAudit(ctx, key, value)
}

func (e *etcdAdapter) AuditRecords(ctx context.Context, cluster string) ([]apply.AuditKV, error) {
	kvs, err := e.cli.AuditRecords(ctx, cluster)
	out := make([]apply.AuditKV, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, apply.AuditKV(kv))
	}
	return out, err
}

func (e *etcdAdapter) DeleteAudit(ctx context.Context, keys ...string) error {
	return e.cli.DeleteAudit(ctx, keys...)
}
