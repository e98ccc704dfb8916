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

// HostPool holds the SSH connections a Connector opened for apply, by
// address, so that the observation under the lock (the stale-plan check)
// uses them instead of dialling the hosts apply has just locked once more.
// The connections stay apply's: the observation does not close them.
type HostPool struct {
	mu      sync.Mutex
	clients map[poolKey]*sshp.Client
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

// NewHostPool returns an empty pool.
func NewHostPool() *HostPool { return &HostPool{clients: map[poolKey]*sshp.Client{}} }

func (p *HostPool) put(a plan.HostAddr, cli *sshp.Client) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clients[keyOf(a)] == nil {
		p.clients[keyOf(a)] = cli
	}
}

func (p *HostPool) drop(cli *sshp.Client) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.clients {
		if c == cli {
			delete(p.clients, a)
		}
	}
}

// dial returns a pooled connection to a (release does nothing), or a new
// one that release closes.
func (p *HostPool) dial(ctx context.Context, a plan.HostAddr) (cli *sshp.Client, release func(), err error) {
	if p != nil {
		p.mu.Lock()
		cli = p.clients[keyOf(a)]
		p.mu.Unlock()
		if cli != nil {
			return cli, func() {}, nil
		}
	}
	if cli, err = Dial(ctx, a); err != nil {
		return nil, nil, err
	}
	return cli, func() { cli.Close() }, nil
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
	var wg sync.WaitGroup
	for i, m := range c.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hosts[i] = observeHost(ctx, c, m, pool)
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
	removedHosts(ctx, c, oc)
	oc.Release = Release(ctx, c, oc)
	return oc
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
	return observeHost(ctx, c, m, nil)
}

// observeHost is Host through pool's connection to the host, when it has
// one.
func observeHost(ctx context.Context, c *schema.Cluster, m *schema.Member, pool *HostPool) *state.Host {
	h := &state.Host{Member: m.Name, Address: m.Host, ServiceState: "unknown"}
	cli, release, err := pool.dial(ctx, plan.HostAddrOf(m))
	if err != nil {
		h.Error = err.Error()
		return h
	}
	defer release()
	h.Reachable = true
	svc := c.Service
	// The facts are independent reads, each writing its own fields of h:
	// up to hostReads at once, each its own SSH session on cli (sshd
	// allows 10 per connection by default, and apply may hold one for its
	// host lock), so that a host costs a few round trips, not one per fact.
	var wg sync.WaitGroup
	sem := make(chan struct{}, hostReads)
	read := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			f()
		}()
	}
	read(func() { fileFacts(ctx, cli, c, m, h) })
	read(func() { serviceFacts(ctx, cli, svc, h) })
	read(func() {
		if v, err := cli.BinaryVersion(ctx, svc.Binary); err == nil {
			h.BinaryVersion = v
		}
	})
	read(func() {
		if n, empty, err := cli.DirSize(ctx, svc.DataDir, apply.AsidePrefix); err == nil {
			h.DataDirBytes, h.DataDirEmpty = n, empty
		}
		h.Data = dataDir(ctx, cli, svc.DataDir)
		if h.Data != nil && !h.Data.HasWAL && h.Data.Error == "" && !h.DataDirEmpty {
			// "member" as a prefix also covers the moved-aside names.
			if _, onlyMember, err := cli.DirSize(ctx, svc.DataDir, apply.AsidePrefix, "member"); err == nil {
				h.DataDirStray = !onlyMember
			}
		}
	})
	read(func() { bootstrapFacts(ctx, cli, c, m, h) })
	read(func() { h.Certs, h.Sources = hostCerts(ctx, cli, m), sourceCerts(m) })
	wg.Wait()
	return h
}

// hostReads bounds the SSH sessions one host's observation opens at once.
const hostReads = 4

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

// serviceFacts reads the service's state and its process's start into h.
func serviceFacts(ctx context.Context, cli *sshp.Client, svc schema.Service, h *state.Host) {
	if mgr, err := sshp.NewServiceManager(cli, svc.Manager, svc.Name, sshp.Commands{
		Start: svc.StartCommand, Stop: svc.StopCommand, Status: svc.StatusCommand, Restart: svc.RestartCommand,
	}, svc.StopTimeout); err == nil {
		if st, err := mgr.State(ctx); err == nil {
			h.ServiceState = string(st)
		} else if errors.Is(err, sshp.ErrServiceNotFound) {
			h.ServiceMissing = err.Error()
		}
		if sp, err := cli.ServiceProcess(ctx, mgr, svc.ConfigFile); err == nil {
			h.ProcessStart, h.ConfigModTime = sp.Start, sp.FileModTime
		}
	}
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
