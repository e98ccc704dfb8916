// Package connect connects etcdform to live clusters. Observe gathers the live state of every cluster of a
// configuration: the etcd side through providers/etcd and each member's host
// through providers/ssh, all members of all clusters in parallel, and
// Connector gives apply its etcd and host connections. An
// unreachable member or host is recorded in the observed state, never
// returned as an error that stops the plan.
package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"time"

	etcdp "github.com/etcdform/etcdform/providers/etcd"
	sshp "github.com/etcdform/etcdform/providers/ssh"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdwal"
	"github.com/etcdform/etcdform/internal/servicedef"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// DefaultObserveTimeout bounds the observation of one cluster when nothing
// else is asked for: plan's -timeout default, apply's own observations and
// the stale-plan check all use it.
const DefaultObserveTimeout = 20 * time.Second

// Options tune Observe.
type Options struct {
	// Timeout bounds the whole observation of one cluster
	// (DefaultObserveTimeout when zero).
	Timeout time.Duration
	Now     func() time.Time
	// Down, when set, is shared with the other observations and the
	// apply of one run, so that a dead member's endpoint is waited on once
	// (see etcd.Down).
	Down *Down
	// Hosts, when set, holds SSH connections apply has open (Connector):
	// a host observed through one of them is not dialled again.
	Hosts *HostPool
}

// HostPool holds the SSH connections of one apply, one per host address
// (its bastion compared by value): a host is dialled once, by whichever
// asks first of the warm-up at the start of a cluster's apply
// (Connector.Warm), the host locks, the observation under the lock and
// the steps; a second asker waits for the dial in flight. The
// connections stay open until the cluster's apply ends (Release) or the
// command's (Close): the observation under the lock and the steps no
// longer dial a host each. A failed dial is not kept, nor a connection
// that ended (the host closed it, or TCP keepalive found it dead): the
// next asker dials again.
type HostPool struct {
	mu      sync.Mutex
	conns   map[poolKey]*pooled
	closed  bool
	base    context.Context // the dials', ended by Close
	cancel  context.CancelFunc
	dialFn  func(context.Context, plan.HostAddr) (*sshp.Client, error) // Dial; tests replace it
	closeFn func(*sshp.Client)                                         // (*sshp.Client).Close; tests replace it
	waitFn  func(*sshp.Client)                                         // returns when the connection ends; tests replace it
}

// pooled is one address's connection, or its dial in flight (done open).
type pooled struct {
	done     chan struct{}
	cli      *sshp.Client
	err      error
	released bool // taken out by Release or Close while its dial was in flight: closed when it ends
}

// poolKey is a HostAddr by value, its bastion's too.
type poolKey struct {
	addr    plan.HostAddr
	bastion plan.Bastion
}

func keyOf(a plan.HostAddr) poolKey {
	k := poolKey{addr: a}
	if a.Bastion != nil {
		k.bastion, k.addr.Bastion = *a.Bastion, nil
	}
	return k
}

// NewHostPool returns an empty pool; Close it when the apply ends.
func NewHostPool() *HostPool {
	base, cancel := context.WithCancel(context.Background())
	return &HostPool{conns: map[poolKey]*pooled{}, base: base, cancel: cancel, dialFn: Dial,
		closeFn: func(c *sshp.Client) { c.Close() },
		waitFn:  func(c *sshp.Client) { _ = c.Wait() }}
}

// start begins the dial of a unless the pool has it or dials it; it
// returns the entry to wait on (nil for a closed pool). The dial runs
// under the pool's context, not the asker's: another asker may be
// waiting for it, and a dial has its own timeout (the host's).
func (p *HostPool) start(a plan.HostAddr) *pooled {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	k := keyOf(a)
	if e := p.conns[k]; e != nil {
		return e
	}
	e := &pooled{done: make(chan struct{})}
	p.conns[k] = e
	go func() {
		cli, err := p.dialFn(p.base, a)
		p.mu.Lock()
		defer p.mu.Unlock()
		e.cli, e.err = cli, err
		switch {
		case err != nil:
			p.forget(k, e) // the next asker tries again
		case e.released:
			p.closeFn(cli)
			e.cli, e.err = nil, errPoolClosed
		default:
			go func() {
				p.waitFn(cli)
				p.mu.Lock()
				defer p.mu.Unlock()
				p.forget(k, e) // ended: the next asker dials again
			}()
		}
		close(e.done)
	}()
	return e
}

// forget takes e out of the pool if it is still k's entry. p.mu is held.
func (p *HostPool) forget(k poolKey, e *pooled) {
	if p.conns[k] == e {
		delete(p.conns, k)
	}
}

var errPoolClosed = errors.New("the apply's SSH connections are closed")

// warm starts dialling a in the background.
func (p *HostPool) warm(a plan.HostAddr) {
	if p != nil {
		p.start(a)
	}
}

// get returns the pool's connection to a, dialling it or waiting for the
// dial in flight until ctx ends. The pool keeps the connection.
func (p *HostPool) get(ctx context.Context, a plan.HostAddr) (*sshp.Client, error) {
	e := p.start(a)
	if e == nil {
		return nil, errPoolClosed
	}
	select {
	case <-e.done:
		return e.cli, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial returns the pool's connection to a (release does nothing), or,
// without a pool, a new one that release closes.
func (p *HostPool) dial(ctx context.Context, a plan.HostAddr) (cli *sshp.Client, release func(), err error) {
	if p != nil {
		cli, err := p.get(ctx, a)
		return cli, func() {}, err
	}
	if cli, err = Dial(ctx, a); err != nil {
		return nil, nil, err
	}
	return cli, func() { cli.Close() }, nil
}

// Release closes the pool's connections, and those still being dialled
// as their dials end; the pool stays open for the next cluster. It is
// safe to call on a nil pool.
func (p *HostPool) Release() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked()
}

func (p *HostPool) releaseLocked() {
	for k, e := range p.conns {
		select {
		case <-e.done:
			if e.cli != nil {
				p.closeFn(e.cli)
			}
		default:
			e.released = true // its dial closes it
		}
		delete(p.conns, k)
	}
}

// Close releases the pool's connections and ends the dials in flight; the
// pool dials no more. It is safe to call on a nil pool and more than once.
func (p *HostPool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.cancel()
	p.releaseLocked()
}

// Down remembers, cluster by cluster, the endpoints that did not answer
// during one apply and whether the cluster answered a linearizable read
// (etcd.Down); NewDown makes one. Each cluster has its own: a cluster
// without a quorum must not make the observations of another cluster of
// the same apply skip their linearizable reads and alarm lists. Safe for
// concurrent use; a nil Down remembers nothing.
type Down struct {
	mu       sync.Mutex
	clusters map[string]*etcdp.Down
}

// NewDown returns an empty Down.
func NewDown() *Down { return &Down{clusters: map[string]*etcdp.Down{}} }

// Cluster returns the etcd.Down of the named cluster (nil for a nil d).
func (d *Down) Cluster(name string) *etcdp.Down {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cd := d.clusters[name]
	if cd == nil {
		cd = etcdp.NewDown()
		d.clusters[name] = cd
	}
	return cd
}

// Observe observes every cluster of cfg.
func Observe(ctx context.Context, cfg *schema.Config, opts Options) *state.Observed {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultObserveTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	obs := &state.Observed{Time: opts.Now().UTC(), Clusters: map[string]*state.Cluster{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range cfg.Clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			defer cancel()
			oc := observeCluster(cctx, c, opts.Down, opts.Hosts)
			mu.Lock()
			obs.Clusters[c.Name] = oc
			mu.Unlock()
		}()
	}
	wg.Wait()
	return obs
}

// Cluster observes one cluster: etcd and every host at once.
func Cluster(ctx context.Context, c *schema.Cluster) *state.Cluster {
	return observeCluster(ctx, c, nil, nil)
}

func observeCluster(ctx context.Context, c *schema.Cluster, down *Down, pool *HostPool) *state.Cluster {
	hosts := make([]*state.Host, len(c.Members))
	runsBinary := make([]bool, len(c.Members))
	var wg sync.WaitGroup
	for i, m := range c.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hosts[i], runsBinary[i] = observeHost(ctx, c, m, pool, true)
		}()
	}
	var oc *state.Cluster
	wg.Add(1)
	go func() {
		defer wg.Done()
		oc = etcdSide(ctx, c, down)
	}()
	var backups *state.Backups
	wg.Add(1)
	go func() {
		defer wg.Done()
		backups = Backups(ctx, c)
	}()
	wg.Wait()
	oc.Name = c.Name
	oc.ToolCert = toolCert(c)
	oc.Backups = backups
	oc.CredentialsSHA256, oc.CredentialsError = credentialsSource(c)
	oc.Hosts = map[string]*state.Host{}
	for i, m := range c.Members {
		oc.Hosts[m.Name] = hosts[i]
	}
	binaryVersions(ctx, c, oc, runsBinary, pool)
	removedHosts(ctx, c, oc)
	oc.Release = Release(ctx, c, oc)
	return oc
}

// binaryVersions completes the binary version of each member whose
// service runs its binary file as it is now (runsBinary, by member index):
// that is the version the member's process reports in its status. Running
// `etcd --version` on the host instead is the costliest read of a host's
// observation (about 18 ms of its CPU, 30% of the rest together). A member
// that gave no status has its binary asked after all.
func binaryVersions(ctx context.Context, c *schema.Cluster, oc *state.Cluster, runsBinary []bool, pool *HostPool) {
	var wg sync.WaitGroup
	for i, m := range c.Members {
		h := oc.Hosts[m.Name]
		if !runsBinary[i] || h == nil || h.BinaryVersion != "" {
			continue
		}
		if v := statusVersion(oc, m.Name); v != "" {
			h.BinaryVersion = v
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli, release, err := pool.dial(ctx, plan.HostAddrOf(m))
			if err != nil {
				return
			}
			defer release()
			if v, err := cli.BinaryVersion(ctx, c.Service.Binary); err == nil {
				h.BinaryVersion = v
			}
		}()
	}
	wg.Wait()
}

// statusVersion is the version the named member reported in its status;
// "" when it gave none, or when another member answered at its URL.
func statusVersion(oc *state.Cluster, name string) string {
	for _, lm := range oc.Members {
		if lm.Name == name && lm.Status != nil && lm.Status.MemberID == lm.ID {
			return lm.Status.Version
		}
	}
	return ""
}

// removedHosts observes the hosts of live members that the configuration
// no longer lists, found from their peer URLs with the cluster's connection
// defaults, so that the plan knows whether removing them can stop their
// service and move their data aside. It runs after the member list is
// known, and only when there are such members.
func removedHosts(ctx context.Context, c *schema.Cluster, oc *state.Cluster) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, lm := range oc.Members {
		if lm.Name == "" || c.Member(lm.Name) != nil || len(lm.PeerURLs) == 0 {
			continue
		}
		m := plan.RemovedMember(c, lm.Name, lm.PeerURLs[0])
		if m == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := Host(ctx, c, m)
			mu.Lock()
			oc.Hosts[m.Name] = h
			mu.Unlock()
		}()
	}
	wg.Wait()
}

func etcdSide(ctx context.Context, c *schema.Cluster, down *Down) *state.Cluster {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.ClientURL)
	}
	opts, err := clientOptions(plan.ClusterTargetOf(c))
	if err != nil {
		return &state.Cluster{Error: err.Error()}
	}
	// An unreadable tool password connects without credentials: a
	// cluster with auth off is observed all the same, and the planner
	// refuses to switch auth on (state.Auth.SourceErrors).
	aopts, _ := authOptions(c)
	cli, err := etcdp.New(eps, append(append(opts, aopts...), etcdp.WithDown(down.Cluster(c.Name)))...)
	if err != nil {
		return &state.Cluster{Error: err.Error()}
	}
	defer cli.Close()
	oc := cli.Observe(ctx)
	if oc.Reachable && c.Auth != nil {
		oc.Auth = observeAuth(ctx, cli, c)
	}
	if c.Auth == nil && strings.Contains(oc.Error, "user name is empty") {
		oc.Error += " (the cluster has auth enabled: give it an auth block with a tool block, so that etcdform authenticates; see docs/auth.md)"
	}
	if !oc.Reachable {
		// The etcd client reports a TLS failure as a timeout: say which
		// endpoint refused what.
		if cfg, _ := ClientTLS(c); cfg != nil {
			if perr := ProbeTLS(ctx, eps, cfg); perr != nil {
				oc.Error = perr.Error()
			}
		}
	}
	return oc
}

// DialHost opens an SSH connection to member m's host.
func DialHost(ctx context.Context, m *schema.Member) (*sshp.Client, error) {
	return Dial(ctx, plan.HostAddrOf(m))
}

// Dial opens an SSH connection to the host a reaches, through its bastion
// when it has one.
func Dial(ctx context.Context, a plan.HostAddr) (*sshp.Client, error) {
	cfg := sshp.Config{
		Host: a.Host, Port: a.Port, User: a.User,
		PrivateKeyFile: a.PrivateKeyFile, Agent: a.Agent,
		KnownHostsFile: a.KnownHostsFile, Sudo: a.Sudo, Timeout: a.Timeout,
	}
	if b := a.Bastion; b != nil {
		cfg.Bastion = &sshp.Config{Host: b.Host, Port: b.Port, User: b.User, PrivateKeyFile: b.PrivateKeyFile,
			Agent: a.Agent, KnownHostsFile: a.KnownHostsFile, Timeout: a.Timeout}
		if cfg.Bastion.PrivateKeyFile == "" {
			cfg.Bastion.PrivateKeyFile = a.PrivateKeyFile
		}
	}
	return sshp.Dial(ctx, cfg)
}

// Host observes one member's host over SSH.
func Host(ctx context.Context, c *schema.Cluster, m *schema.Member) *state.Host {
	h, _ := observeHost(ctx, c, m, nil, false)
	return h
}

// observeHost is Host through pool's connection to the host, when it has
// one. With versionLater, a binary that the service's process runs as it
// is now is not asked its version: runsBinary says so, and the caller
// takes the version from the member's status (binaryVersions).
func observeHost(ctx context.Context, c *schema.Cluster, m *schema.Member, pool *HostPool, versionLater bool) (h *state.Host, runsBinary bool) {
	h = &state.Host{Member: m.Name, Address: m.Host, ServiceState: "unknown"}
	cli, release, err := pool.dial(ctx, plan.HostAddrOf(m))
	if err != nil {
		h.Error = err.Error()
		return h, false
	}
	defer release()
	h.Reachable = true
	var stray bool // a data dir without a WAL holds more than member/ (and moved-aside dirs)
	svc := c.Service
	// The facts are independent reads, each in its own goroutine writing
	// its own fields of h. Their commands share SSH sessions (a Batch):
	// every goroutine's first command runs in one session, and a read that
	// depends on another's answer (the binary's version when the service
	// does not run it, the backup job's files) in the next, so a host
	// costs one or two sessions and round trips, not one per fact.
	b := cli.NewBatch()
	b.Go(func(cli *sshp.Client) { fileFacts(ctx, cli, c, m, h) })
	b.Go(func(cli *sshp.Client) {
		if n, empty, err := cli.DirSize(ctx, svc.DataDir, apply.AsidePrefix); err == nil {
			h.DataDirBytes, h.DataDirEmpty = n, empty
		}
	})
	b.Go(func(cli *sshp.Client) {
		h.Data = dataDir(ctx, cli, svc.DataDir)
		if h.Data != nil && !h.Data.HasWAL && h.Data.Error == "" {
			// Does the dir hold anything but member/? ("member" as a
			// prefix also covers the moved-aside names.)
			if _, onlyMember, err := cli.DirSize(ctx, svc.DataDir, apply.AsidePrefix, "member"); err == nil {
				stray = !onlyMember
			}
		}
	})
	b.Go(func(cli *sshp.Client) { dataDirFacts(ctx, cli, c, h) })
	b.Go(func(cli *sshp.Client) { h.Certs = hostCerts(ctx, cli, m) })
	// The service manager's commands last in the session: they are the
	// likeliest to hang (systemctl waiting on D-Bus, a status_command),
	// and the reads before them keep their results when the context ends.
	b.Go(func(cli *sshp.Client) {
		if serviceProcess(ctx, cli, svc, h) && versionLater {
			runsBinary = true
			return
		}
		if v, err := cli.BinaryVersion(ctx, svc.Binary); err == nil {
			h.BinaryVersion = v
		}
	})
	b.Go(func(cli *sshp.Client) {
		serviceState(ctx, cli, svc, h)
		if h.ServiceState != "running" {
			peerPortFacts(ctx, cli, m, h)
		}
	})
	h.Sources = sourceCerts(m)
	b.Wait()
	h.DataDirStray = stray && !h.DataDirEmpty
	return h, runsBinary
}

// fileFacts reads the host's small files in one SSH session (the etcd
// config file, the service definition etcdform installs and the backup
// job's files) into h, then the backup job's other facts.
func fileFacts(ctx context.Context, cli *sshp.Client, c *schema.Cluster, m *schema.Member, h *state.Host) {
	svc := c.Service
	paths := []string{svc.ConfigFile}
	def := ""
	if servicedef.Supported(svc.Manager) {
		def = servicedef.Path(svc.Manager, svc.Name)
		paths = append(paths, def)
	}
	paths = append(paths, backupJobPaths(c)...)
	files, errs, err := cli.ReadFiles(ctx, paths...)
	if err == nil {
		err = errs[svc.ConfigFile]
	}
	data, exists := files[svc.ConfigFile]
	configFacts(svc.ConfigFile, data, exists, err, h)
	if def != "" {
		h.ServiceDef = files[def]
	}
	hb := backupJob(ctx, cli, c, m, files)
	h.BackupJob, h.Init, h.BackupTimer, h.BackupEnvSHA256 = hb.files, hb.init, hb.timer, hb.envSHA256
	h.ToolSHA256, h.ToolVersion = hb.toolSHA256, hb.toolVersion
}

// configFacts records the host's etcd config file at path in h: its
// content when it exists, else the error that kept it from being read
// (none when it is missing).
func configFacts(path string, data []byte, exists bool, err error, h *state.Host) {
	switch {
	case err != nil:
		h.Error = "reading " + path + ": " + err.Error()
	case exists:
		h.ConfigExists = true
		sum := sha256.Sum256(data)
		h.ConfigHash = hex.EncodeToString(sum[:])
		h.ConfigContent = data
		if p, err := etcdconf.Parse(data); err != nil {
			h.ConfigError = err.Error()
		} else {
			h.Config = &p.File
			h.ConfigUnknown = p.Unknown
		}
	}
}

// serviceManager is the service's manager on cli's host.
func serviceManager(cli *sshp.Client, svc schema.Service) (sshp.ServiceManager, error) {
	return sshp.NewServiceManager(cli, svc.Manager, svc.Name, sshp.Commands{
		Start: svc.StartCommand, Stop: svc.StopCommand, Status: svc.StatusCommand, Restart: svc.RestartCommand,
	}, svc.StopTimeout)
}

// serviceState reads the service's state into h.
func serviceState(ctx context.Context, cli *sshp.Client, svc schema.Service, h *state.Host) {
	if mgr, err := serviceManager(cli, svc); err == nil {
		if st, err := mgr.State(ctx); err == nil {
			h.ServiceState = string(st)
		} else if errors.Is(err, sshp.ErrServiceNotFound) {
			h.ServiceMissing = err.Error()
		}
	}
}

// serviceProcess reads the start of the service's process and the config
// file's modification time into h; true when that process runs the
// service's binary file as it is now.
func serviceProcess(ctx context.Context, cli *sshp.Client, svc schema.Service, h *state.Host) bool {
	if mgr, err := serviceManager(cli, svc); err == nil {
		if sp, err := cli.ServiceProcess(ctx, mgr, svc.ConfigFile, svc.Binary); err == nil {
			h.ProcessStart, h.ConfigModTime = sp.Start, sp.FileModTime
			return sp.RunsBinary
		}
	}
	return false
}

// dataDir reads the identity the data dir holds from its oldest WAL file's
// head; nil when the host could not be asked.
func dataDir(ctx context.Context, cli *sshp.Client, dir string) *state.DataDir {
	head, err := cli.WALHead(ctx, dir, etcdwal.HeadBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &state.DataDir{}
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return &state.DataDir{HasWAL: true, Error: err.Error()}
	}
	id, err := etcdwal.Identity(head)
	if err != nil {
		return &state.DataDir{HasWAL: true, Error: err.Error()}
	}
	return &state.DataDir{HasWAL: true, MemberID: id.MemberID, ClusterID: id.ClusterID}
}
