package apply

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/servicedef"
	"github.com/etcdform/etcdform/plan/model"
)

func memberLabel(s model.Step) string {
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
	c       model.ClusterTarget
	etcd    Etcd
	conn    Connector
	opts    Options
	hosts   map[string]Host
	ev      func(phase string)
	mark    func(m Milestone, phase string, peer uint64) // an event that is a Milestone
	learner uint64                                       // ID returned by the last AddLearner, for its Promote
	// afterGate, when a step sets it, runs after the step's gate passed.
	afterGate func(ctx context.Context) error
	// healthyAt is when a gate last passed (before or after a step).
	healthyAt time.Time
	// laterDisarms is the alarm types that disarm-alarm steps after the
	// current one clear (a NOSPACE disarm whose guard fails waits for
	// them instead of failing).
	laterDisarms []string
	// fetched is the backup snapshot a fetch-backup step fetched and
	// checked for this run's restore-member steps (restore.go).
	fetched *fetchedBackup
	// stamps are the copies this apply's stage-binary steps staged and
	// checked, for the upgrade-member steps' swaps (shared by the steps
	// of a concurrent group).
	stamps *stagedStamps
	// downgrade is the minor ("3.5") of the downgrade a downgrade-enable
	// step of this apply requested; "" before. A failed step then cancels
	// it while versions are mixed (cancelDowngrade).
	downgrade string
}

// host connects to the host of the step's member (once per member).
func (x *executor) host(ctx context.Context, s model.Step) (Host, error) {
	if h, ok := x.hosts[s.Member]; ok {
		return h, nil
	}
	h, err := x.dial(ctx, s)
	if err != nil {
		return nil, err
	}
	x.hosts[s.Member] = h
	return h, nil
}

// dial connects to the host of the step's member, without keeping it.
func (x *executor) dial(ctx context.Context, s model.Step) (Host, error) {
	if s.Target == nil {
		return nil, fmt.Errorf("member %s: the step names no host (plan again with this etcdform)", s.Member)
	}
	h, err := x.conn.Host(ctx, *s.Target)
	if err != nil {
		return nil, fmt.Errorf("member %s: host %s: %w", s.Member, s.Target.Host.Host, err)
	}
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
// the step's own member is not required. justGated says the gate after
// the step before passed an instant ago with nothing run since: that gate
// asked every member (GateAll), tolerating the same alarms (those this
// step or a later one clears), so it answers this one too.
func (x *executor) preGate(ctx context.Context, s model.Step, justGated bool) error {
	gate := s.Action.Info().Before
	if gate == model.GateNone {
		return nil
	}
	if justGated {
		x.mark(PreGatePassed, "healthy before the step (the gate after the step before, just passed)", 0)
		return nil
	}
	var except uint64
	if gate == model.GateOthers {
		id, err := x.memberID(ctx, s)
		if err != nil {
			return err
		}
		except = id
	}
	if err := x.gateExcept(ctx, except, "before the step"); err != nil {
		return fmt.Errorf("the cluster was not healthy before the step, so it was not started (waited %s): %w", x.opts.GateTimeout, err)
	}
	x.mark(PreGatePassed, "healthy before the step", 0)
	return nil
}

// gateExcept waits, fresh, for the cluster to be healthy (not requiring
// member except, when not 0) within the gate timeout, and notes when it
// was.
func (x *executor) gateExcept(ctx context.Context, except uint64, when string) error {
	x.ev("checking health " + when)
	gctx, cancel := context.WithTimeout(ctx, x.opts.GateTimeout)
	defer cancel()
	if err := x.etcd.WaitHealthy(gctx, except); err != nil {
		return err
	}
	x.healthyAt = x.opts.Now()
	return nil
}

// errNotStopped marks a restart or removal that failed before its member
// stopped or was removed.
var errNotStopped = errors.New("not done")

// stopGateAfter is how long after the last passed gate a member is not
// taken down or removed without asking again (gateBeforeStop).
const stopGateAfter = 250 * time.Millisecond

// gateBeforeStop asks, right before a restart stops its member (or a
// removal removes it), again whether every other member is healthy, when
// leadership moved or more than stopGateAfter passed since the last gate:
// a member that died in between (a leadership check can spend seconds on
// one) would otherwise be found only after this one is down too, the
// quorum gone.
func (x *executor) gateBeforeStop(ctx context.Context, s model.Step, id uint64, moved, removal bool) error {
	if s.Action.Info().Before == model.GateNone || !moved && x.opts.Now().Sub(x.healthyAt) <= stopGateAfter {
		return nil // an action without a gate before it (none restarts or removes today), or just gated
	}
	event, outcome := "the stop", "was to stop, so it was not stopped"
	if removal {
		event, outcome = "the removal", "was to be removed, so it was not removed"
	}
	start := time.Now()
	if err := x.gateExcept(ctx, id, "before "+event); err != nil {
		return fmt.Errorf("%w: the cluster was not healthy right before %s %s (waited %s): %w", errNotStopped, s.Member, outcome, time.Since(start).Round(time.Millisecond), err)
	}
	x.mark(StopGatePassed, "healthy before "+event, 0)
	return nil
}

// handler carries out one step's own work; apply runs the action's gates
// around it (model.ActionInfo).
type handler func(x *executor, ctx context.Context, s model.Step) error

// handlers holds the handler of every action in the actions table
// (model.Actions); TestActionTable checks that none is missing.
var handlers = map[model.Action]handler{
	model.Snapshot:           (*executor).snapshotStep,
	model.StartMember:        (*executor).start,
	model.AddLearner:         (*executor).addLearner,
	model.Promote:            (*executor).promote,
	model.RemoveMember:       (*executor).remove,
	model.UploadFile:         (*executor).upload,
	model.InstallBackupJob:   (*executor).backupJob,
	model.WriteConfig:        (*executor).writeConfig,
	model.Restart:            (*executor).restart,
	model.Compact:            (*executor).compact,
	model.Defrag:             (*executor).defrag,
	model.DisarmAlarm:        (*executor).disarmAlarm,
	model.InstallBinary:      (*executor).upload,
	model.InstallService:     (*executor).installService,
	model.BootstrapStart:     (*executor).bootstrapStart,
	model.StopMember:         (*executor).stopMember,
	model.RecoverSurvivor:    (*executor).recoverSurvivor,
	model.UpgradeMember:      (*executor).upgradeMember,
	model.StageBinary:        (*executor).stageBinary,
	model.CheckV2Store:       (*executor).checkV2Store,
	model.AddRole:            (*executor).addRole,
	model.GrantPermission:    (*executor).grantPermission,
	model.RevokePermission:   (*executor).revokePermission,
	model.AddUser:            (*executor).addUser,
	model.GrantRole:          (*executor).grantRole,
	model.RevokeRole:         (*executor).revokeRole,
	model.SetPassword:        (*executor).setPassword,
	model.EnableAuth:         (*executor).enableAuth,
	model.DisableAuth:        (*executor).disableAuth,
	model.FetchBackup:        (*executor).fetchBackup,
	model.RestoreMember:      (*executor).restoreMember,
	model.DowngradeValidate:  (*executor).downgradeValidate,
	model.DowngradeEnable:    (*executor).downgradeEnable,
	model.DowngradeMember:    (*executor).upgradeMember,
	model.WaitClusterVersion: (*executor).waitClusterVersion,
}

// HasHandler reports whether apply can carry out steps of action a.
func HasHandler(a model.Action) bool { return handlers[a] != nil }

func (x *executor) run(ctx context.Context, s model.Step) error {
	h := handlers[s.Action]
	if h == nil {
		return fmt.Errorf("apply: unknown action %q", s.Action)
	}
	timeout := x.opts.StepTimeout
	switch s.Action.Info().Timeout {
	case model.TimeoutBackupRun:
		if s.Job != nil && s.Job.Run || s.Backup != nil {
			timeout += x.opts.BackupRunTimeout
		}
	case model.TimeoutDBSize:
		timeout += x.dbTime(ctx, s)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return h(x, ctx, s)
}

func (x *executor) snapshotStep(ctx context.Context, s model.Step) error {
	x.ev("taking snapshot")
	return x.snapshot(ctx)
}

func (x *executor) writeConfig(ctx context.Context, s model.Step) error {
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	x.ev("writing config")
	return h.InstallFiles(ctx, []File{{Path: s.Target.ConfigFile, Data: s.Config, Mode: 0o644}})
}

// installService installs the service definition the step carries, with
// its user and data dir, on a new member's host; the service stays
// stopped until bootstrap-start.
func (x *executor) installService(ctx context.Context, s model.Step) error {
	if len(s.Config) == 0 || s.Target == nil {
		return fmt.Errorf("install-service %s: the step carries no service definition (plan again with this etcdform)", s.Member)
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	t := s.Target
	x.ev("installing service")
	return h.InstallService(ctx, ServiceInstall{Manager: t.Service.Manager, Name: t.Service.Name,
		Path: servicedef.Path(t.Service.Manager, t.Service.Name), Definition: s.Config, User: t.Service.User, DataDir: t.DataDir})
}

// bootstrapStart enables and starts one member of a new cluster without
// waiting for it: the others start right after it, and the gate after
// the last start (the action's Batch) waits for the whole cluster.
func (x *executor) bootstrapStart(ctx context.Context, s model.Step) error {
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	x.ev("enabling service")
	if err := h.Enable(ctx); err != nil {
		return err
	}
	x.ev("starting")
	return h.Launch(ctx)
}

// checkV2Store runs etcdutl check v2store, beside the member's etcd
// binary, on a copy of the member's WAL and v2 snapshots.
func (x *executor) checkV2Store(ctx context.Context, s model.Step) error {
	if s.Target == nil {
		return fmt.Errorf("check-v2store %s: the step names no host (plan again with this etcdform)", s.Member)
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	x.ev("checking the v2 store")
	if err := h.CheckV2Store(ctx, path.Join(path.Dir(s.Target.Binary), "etcdutl"), s.Target.DataDir); err != nil {
		return fmt.Errorf("the v2 store of %s may hold custom content, which etcd 3.6 no longer reads (see etcd's 3.6 upgrade guide); nothing was installed: %w", s.Member, err)
	}
	return nil
}

// upgradeMember swaps in the binaries a stage-binary step staged (checked
// against the step's sha256 on the host, unless they are unchanged since
// this apply's stage-binary step checked them), restarts the member on them (a
// restart, with leadership moved away first) and waits, within the step's
// time, until it reports the version the step's target names. It serves
// downgrade-member too. A member the live member list shows as a learner
// is not touched: no learner is swapped.
func (x *executor) upgradeMember(ctx context.Context, s model.Step) error {
	if s.Target == nil || s.Target.Version == "" {
		return fmt.Errorf("%s %s: the step names no version (plan again with this etcdform)", s.Action, s.Member)
	}
	if id, err := x.memberID(ctx, s); err == nil {
		ms, err := x.etcd.Members(ctx)
		if err != nil {
			return fmt.Errorf("reading the member list before the version change of %s: %w", s.Member, err)
		}
		for _, m := range ms {
			if m.ID == id && m.IsLearner {
				return fmt.Errorf("%s is a learner in the live member list, and the plan had it as a voter: a learner's version is not changed; nothing was done to it", s.Member)
			}
		}
	}
	if len(s.Uploads) > 0 {
		h, err := x.host(ctx, s)
		if err != nil {
			return err
		}
		staged := make([]Staged, len(s.Uploads))
		for i, u := range s.Uploads {
			staged[i] = Staged{Path: u.Path, SHA256: u.SHA256, Stamp: x.stamps.get(s.Member, u.Path, u.SHA256)}
		}
		x.ev("swapping in the staged binaries")
		if err := h.SwapStaged(ctx, staged); err != nil {
			return fmt.Errorf("the new binaries of %s were not swapped in; the member still runs its old version: %w", s.Member, err)
		}
	}
	if err := x.restart(ctx, s); err != nil {
		if len(s.Uploads) > 0 && errors.Is(err, errNotStopped) {
			return fmt.Errorf("the new binaries of %s are swapped in (each replaced one kept as PATH.bak), but it still runs its old version and starts on the new one at its next restart; plan again: %w", s.Member, err)
		}
		return err
	}
	id, err := x.memberID(ctx, s)
	if err != nil {
		return err
	}
	want := s.Target.Version
	x.ev("waiting for etcd " + want)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := x.etcd.MemberVersion(ctx, id)
		if err == nil && got == want {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("it reports etcd %s", got)
			}
			return fmt.Errorf("member %s did not report etcd %s after its restart: %w", s.Member, want, err)
		case <-tick.C:
		}
	}
}

func (x *executor) start(ctx context.Context, s model.Step) error {
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	x.ev("starting")
	return h.Start(ctx)
}

// restart moves leadership away if the member leads and restarts it;
// after the gate, runCluster waits for its clients to come back
// (waitClientsBack).
func (x *executor) restart(ctx context.Context, s model.Step) error {
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	id, moved, err := x.handOver(ctx, s)
	if err != nil {
		return err
	}
	ports := x.clientPorts(ctx, id)
	before := 0
	if len(ports) > 0 {
		if before, err = h.ClientConnections(ctx, ports); err != nil {
			x.ev(fmt.Sprintf("not waiting for the clients after the restart: %v", err))
			before = 0
		}
	}
	if err := x.gateBeforeStop(ctx, s, id, moved, false); err != nil {
		return err
	}
	x.mark(ServiceStopping, "restarting", 0)
	stopped := time.Now()
	if err := h.Restart(ctx); err != nil {
		return err
	}
	x.mark(ServiceRunning, "running again", 0)
	if before > 0 {
		x.afterGate = func(ctx context.Context) error { return x.waitClientsBack(ctx, h, ports, before, stopped) }
	}
	return nil
}

// clientPorts returns the ports of member id's client URLs; none when they
// cannot be read (then restart does not wait for the clients).
func (x *executor) clientPorts(ctx context.Context, id uint64) []int {
	urls, err := x.etcd.ClientURLs(ctx, id)
	if err != nil {
		return nil
	}
	var ports []int
	for _, u := range urls {
		if p, err := strconv.Atoi(portOf(u)); err == nil && p > 0 && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

// clientsPoll is how often waitClientsBack counts the connections.
const clientsPoll = 100 * time.Millisecond

// waitClientsBack waits, once a restarted member serves again (its gate
// passed), until its host has at least before remote client connections
// again. A client's gRPC connection to a member that went down comes back
// only when its reconnect backoff next fires, well after the member serves
// again; until then the client has one endpoint fewer, and restarting the
// next member leaves it two fewer (with 3 members, none: every request
// waits for a reconnect). An idle client may reconnect only at its next
// request, so the wait also ends once a client with gRPC's default backoff
// has certainly retried (reconnectBy), or after ClientsBackTimeout; the
// apply then goes on.
func (x *executor) waitClientsBack(ctx context.Context, h Host, ports []int, before int, stopped time.Time) error {
	x.ev(fmt.Sprintf("waiting for the clients (%d connections before the restart)", before))
	by := reconnectBy(time.Since(stopped))
	deadline := stopped.Add(by)
	if limit := time.Now().Add(x.opts.ClientsBackTimeout); limit.Before(deadline) {
		deadline = limit
	}
	for {
		n, err := h.ClientConnections(ctx, ports)
		if err == nil && n >= before {
			x.mark(ClientsBack, fmt.Sprintf("clients back (%d connections, %d before the restart)", n, before), 0)
			return nil
		}
		if !time.Now().Before(deadline) {
			x.mark(ClientsBack, fmt.Sprintf("%d of %d client connections back %s after the stop, when every client with gRPC's default backoff has retried; going on", n, before, by.Round(time.Millisecond)), 0)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the clients after the restart: %w", ctx.Err())
		case <-time.After(clientsPoll):
		}
	}
}

// reconnectBy bounds the time after a connection loss by which a gRPC
// client with the default connection backoff (1 s, 1.6 times longer each
// try, up to 120 s, each with up to 20% jitter either way) has tried to
// reconnect after a server that was down for down: the latest try before
// down may come as early as 0.8 times the sum of the backoffs before it,
// and the next one as late as 1.2 times its own backoff after down.
func reconnectBy(down time.Duration) time.Duration {
	backoff := func(k int) time.Duration {
		return min(time.Duration(float64(time.Second)*math.Pow(1.6, float64(k))), 120*time.Second)
	}
	earliest, k := time.Duration(0), 0
	for {
		next := earliest + backoff(k)*8/10
		if next > down {
			return down + backoff(k)*12/10
		}
		earliest, k = next, k+1
	}
}

func (x *executor) promote(ctx context.Context, s model.Step) error {
	id := s.MemberID
	if id == 0 {
		id = x.learner
	}
	if id == 0 {
		return fmt.Errorf("promote %s: no learner ID (the add step did not run in this apply)", s.Member)
	}
	x.ev("waiting for the learner to catch up")
	// Only a learner this apply added (its data dir empty, checked by the
	// preflight) can be silent for the lost first publish: one left by an
	// earlier apply, restarted with its data, shows its old publish while
	// it catches up.
	newMember := x.learner != 0 && id == x.learner
	err := x.etcd.WaitLearnerCaughtUp(ctx, id, newMember)
	switch {
	case errors.Is(err, ErrLearnerSilent) && newMember:
		// etcd lost the wait for the learner's first publish: it runs,
		// answers its peers and has applied its publish, but serves no
		// client until the publish is retried, a request timeout later.
		// Waiting for that would keep the cluster a voter short (after a
		// removal: no failure tolerated) the whole time. etcd's own
		// check still decides the promotion (the learner's raft log
		// matches at least 90% of the leader's); the gate after the step
		// waits for the member to serve.
		x.ev(fmt.Sprintf("%v; etcd lost the wait for its first publish and retries it after its request timeout: promoting once etcd's check finds its log in step with the leader's, the gate after the step waits for it to serve", err))
	case err != nil:
		return err
	}
	x.ev("promoting")
	if err := x.etcd.Promote(ctx, id); err != nil {
		return err
	}
	x.ev("promoted")
	return nil
}

func (x *executor) memberID(ctx context.Context, s model.Step) (uint64, error) {
	if s.MemberID != 0 {
		return s.MemberID, nil
	}
	return x.etcd.MemberID(ctx, s.Member, s.PeerURL)
}

// addLearner preflights the new host, adds the member as a learner, writes
// its config and starts it. The Promote step that follows waits for
// catch-up and promotes.
//
// The config is the step's, rendered by the planner, with one value filled
// in here, at run time: initial-cluster, from the live member list that
// adding the learner returns (it is not known before).
func (x *executor) addLearner(ctx context.Context, s model.Step) error {
	t := s.Target
	if t == nil {
		return fmt.Errorf("add %s: the step names no host (plan again with this etcdform)", s.Member)
	}
	if len(s.Config) == 0 {
		return fmt.Errorf("add %s: the step carries no config (plan again with this etcdform)", s.Member)
	}
	tmpl, err := etcdconf.Parse(s.Config)
	if err == nil && len(tmpl.Unknown) > 0 {
		err = fmt.Errorf("unknown keys %v", tmpl.Unknown)
	}
	if err != nil {
		return fmt.Errorf("the config of %s cannot be written, nothing was changed: %w", s.Member, err)
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return err
	}
	x.ev("preflight")
	port, _ := strconv.Atoi(portOf(s.PeerURL))
	if err := h.Preflight(ctx, Preflight{Binary: t.Binary, Version: t.Version, DataDir: t.DataDir,
		Ignore: []string{AsidePrefix}, PeerPort: port}); err != nil {
		return fmt.Errorf("preflight of %s (%s) failed, nothing was changed: %w", s.Member, t.Host.Host, err)
	}
	// A host whose member was removed before has its service disabled.
	if err := h.Enable(ctx); err != nil {
		return fmt.Errorf("enabling the etcd service on %s failed, nothing else was changed: %w", t.Host.Host, err)
	}
	x.ev("adding learner")
	id, live, err := x.etcd.AddLearner(ctx, s.PeerURL)
	if err != nil {
		return err
	}
	x.learner = id
	peers := map[string]string{s.Member: s.PeerURL}
	for _, lm := range live {
		if lm.ID != id && lm.Name != "" {
			peers[lm.Name] = lm.PeerURL
		}
	}
	f := tmpl.File
	f.InitialCluster = etcdconf.InitialCluster(peers)
	x.ev("writing config")
	b, err := etcdconf.Marshal(&f)
	if err == nil {
		err = h.InstallFiles(ctx, []File{{Path: t.ConfigFile, Data: b, Mode: 0o644}})
	}
	if err != nil {
		return fmt.Errorf("member %s was added as learner %x but its config could not be written (remove it with etcdctl member remove %x, or run plan again): %w", s.Member, id, id, err)
	}
	x.ev("starting")
	if err := h.Start(ctx); err != nil {
		return fmt.Errorf("member %s was added as learner %x but did not start: %w", s.Member, id, err)
	}
	return nil
}

// handOver finds the step's member and, if it leads now (whoever leads
// when its turn comes, not who led at plan time), moves leadership away;
// moved says it did.
func (x *executor) handOver(ctx context.Context, s model.Step) (id uint64, moved bool, err error) {
	id, err = x.memberID(ctx, s)
	if err != nil {
		return 0, false, err
	}
	x.ev("checking leadership")
	to, err := x.etcd.Transferee(ctx, id)
	if err != nil || to == 0 {
		return id, false, err
	}
	x.mark(LeaderMoveSent, fmt.Sprintf("moving leadership to %x", to), to)
	if err := x.etcd.MoveLeader(ctx, to); err != nil {
		return id, false, err
	}
	x.mark(LeaderMoved, fmt.Sprintf("leadership moved to %x", to), to)
	return id, true, nil
}

func (x *executor) remove(ctx context.Context, s model.Step) error {
	id, moved, err := x.handOver(ctx, s)
	if err != nil {
		return err
	}
	if err := x.gateBeforeStop(ctx, s, id, moved, true); err != nil {
		return err
	}
	x.ev("removing member")
	if err := x.etcd.Remove(ctx, id); err != nil {
		return err
	}
	// The planner gives no Target for a host that is down or unknown:
	// only the member-list change is made.
	if s.HostDown || s.Target == nil {
		return nil
	}
	h, err := x.host(ctx, s)
	if err != nil {
		return fmt.Errorf("member %s was removed, but its host could not be reached to stop it: %w", s.Member, err)
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
	dd := s.Target.DataDir
	x.ev("moving data dir aside")
	if err := h.MoveAside(ctx, path.Join(dd, "member"), x.aside(dd)); err != nil {
		return fmt.Errorf("member %s was removed, stopped and disabled, but its data dir's member/ was not moved aside (move it by hand before adding a member on this host): %w", s.Member, err)
	}
	return nil
}

// AsidePrefix starts the name under which remove-member, stop-member and
// recover-survivor move a data dir's member/ aside (model.AsidePrefix).
const AsidePrefix = model.AsidePrefix

// dbTime is the time a TimeoutDBSize step gets beyond the step timeout:
// its member's DB size, as the member reports it now, at
// model.DefragBytesPerSecond. A size that cannot be read adds nothing
// (the step itself then reaches the member, or fails).
func (x *executor) dbTime(ctx context.Context, s model.Step) time.Duration {
	sctx, cancel := context.WithTimeout(ctx, x.opts.StepTimeout)
	defer cancel()
	sizes, _ := x.etcd.DBSizes(sctx) // those that answered
	for _, m := range sizes {
		if m.ID == s.MemberID {
			return time.Duration(m.Size) * time.Second / model.DefragBytesPerSecond
		}
	}
	return 0
}
