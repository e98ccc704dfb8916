package lab

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/etcdconf"
)

// Tools the lab runs, with the Debian package that provides each.
var requiredTools = []struct{ path, pkg string }{
	{"ip", "iproute2"},
	{"unshare", "util-linux"},
	{"/usr/sbin/sshd", "openssh-server"},
	{"runsvdir", "runit"},
	{"sv", "runit"},
}

// Preflight checks that a runit lab can run here: root, and every tool
// present. The error says exactly what is missing.
func Preflight() error { return PreflightInit(InitRunit) }

// PreflightInit checks that a lab whose hosts run init can run here; for
// InitSystemd it also needs systemd and a cgroup layout it can boot on.
func PreflightInit(init string) error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (the lab makes network namespaces and mounts: run as root)")
	}
	tools := requiredTools
	switch init {
	case "", InitRunit:
	case InitSystemd:
		tools = append(tools[:len(tools):len(tools)], systemdTools...)
		if _, err := cgroupLayout(); err != nil {
			missing = append(missing, err.Error())
		}
	default:
		return fmt.Errorf("lab: --init %q: want %s or %s", init, InitRunit, InitSystemd)
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t.path); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.path, t.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("lab: cannot run here; missing: %s. `make deps` installs the packages on Debian", strings.Join(missing, "; "))
	}
	return nil
}

// Up builds a lab in opts.Dir and returns its state once every member
// answers /health. On any error it removes whatever it had made.
func Up(ctx context.Context, opts Options, progress func(string)) (st *State, err error) {
	if progress == nil {
		progress = func(string) {}
	}
	if opts.Dir == "" {
		opts.Dir = ".lab"
	}
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Members < 1 || opts.Members > MaxMembers {
		return nil, fmt.Errorf("lab: --members must be between 1 and %d, not %d", MaxMembers, opts.Members)
	}
	if opts.Spare < 0 || opts.Spare > MaxSpare {
		return nil, fmt.Errorf("lab: --spare must be between 0 and %d, not %d", MaxSpare, opts.Spare)
	}
	if opts.Init == "" {
		opts.Init = InitRunit
	}
	if err := PreflightInit(opts.Init); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	prefix, err := Prefix(dir)
	if err != nil {
		return nil, err
	}
	if old, err := Load(dir); err == nil {
		if anyAlive(old) {
			return nil, fmt.Errorf("%w: %s", ErrAlreadyUp, dir)
		}
		progress(fmt.Sprintf("removing the leftovers of an earlier lab in %s whose processes died", dir))
		if err := Down(ctx, dir); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, ErrNotUp) {
		return nil, err
	}
	// Lab up writes only new files, so lab down removes only its own.
	if found := existingLabFiles(dir); len(found) > 0 {
		return nil, fmt.Errorf("lab: %s already holds %s, which lab up would overwrite; move them away or choose another --dir", dir, strings.Join(found, ", "))
	}
	if left := leftoverNetns(prefix); len(left) > 0 {
		progress(fmt.Sprintf("removing %d leftover namespaces of an earlier lab (%s...)", len(left), left[0]))
		if err := cleanup(ctx, prefix); err != nil {
			return nil, err
		}
	}
	bins, err := etcdbin.Ensure(ctx, opts.EtcdVersion, progress)
	if err != nil {
		return nil, err
	}
	// Choosing a subnet and claiming it with the bridge's address is one
	// critical section across processes, so two labs started at once
	// cannot take the same subnet.
	unlock, err := lockMachine()
	if err != nil {
		return nil, err
	}
	defer func() { unlock() }()
	var subnet netip.Prefix
	if opts.Subnet != "" {
		subnet, err = netip.ParsePrefix(opts.Subnet)
		if err != nil || !subnet.Addr().Is4() || subnet.Bits() > 24 {
			return nil, fmt.Errorf("lab: --subnet %q must be an IPv4 prefix of /24 or larger, such as 10.213.7.0/24", opts.Subnet)
		}
		subnet = subnet.Masked()
		if clash, err := subnetInUse(subnet); err != nil {
			return nil, err
		} else if clash != "" {
			return nil, fmt.Errorf("lab: subnet %s is already in use on this machine (%s); choose another with --subnet", subnet, clash)
		}
	} else if subnet, err = freeSubnet(dir); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	base := subnet.Addr().As4()
	addr := func(last byte) string { a := base; a[3] = last; return netip.AddrFrom4(a).String() }
	st = &State{
		Dir: dir, Prefix: prefix, Subnet: subnet.String(),
		Bridge: prefix + "br", BridgeAddr: addr(1), EtcdVersion: bins.Version, TLS: opts.TLS,
		Init: opts.Init,
	}
	for i := 0; i < opts.Members+opts.Spare; i++ {
		h := Host{
			Name:   fmt.Sprintf("etcd-%d", i+1),
			Member: i < opts.Members,
			Netns:  fmt.Sprintf("%s-%d", prefix, i+1),
			Veth:   fmt.Sprintf("%sv%d", prefix, i+1),
			Addr:   addr(byte(11 + i)),
			TLS:    opts.TLS,
		}
		if !h.Member {
			h.Name = fmt.Sprintf("spare-%d", i+1-opts.Members)
		}
		h.Root = filepath.Join(dir, "hosts", h.Name)
		st.Hosts = append(st.Hosts, h)
	}
	defer func() {
		if err != nil {
			// No half-built lab: remove what was made, keep the first error.
			_ = cleanup(context.WithoutCancel(ctx), prefix)
			_ = removeFiles(dir)
		}
	}()
	if err := st.save(); err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("creating %d hosts on %s (bridge %s)", len(st.Hosts), subnet, st.Bridge))
	if err := st.writeKeysAndFiles(bins); err != nil {
		return nil, err
	}
	if err := st.makeNetwork(ctx); err != nil {
		return nil, err
	}
	unlock()
	unlock = func() {}
	for i := range st.Hosts {
		if err := st.startHost(ctx, &st.Hosts[i]); err != nil {
			return nil, err
		}
	}
	if err := st.save(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := st.waitReady(wctx); err != nil {
		return nil, err
	}
	return st, nil
}

// writeKeysAndFiles writes the SSH client key, per-host sshd config and host
// keys, known_hosts, runit service dirs or systemd units, etcd configs and
// lab.hcl.
func (s *State) writeKeysAndFiles(bins *etcdbin.Binaries) error {
	_, clientKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := writePrivateKey(s.KeyFile(), clientKey); err != nil {
		return err
	}
	clientPub, err := ssh.NewPublicKey(clientKey.Public())
	if err != nil {
		return err
	}
	authorized := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(s.KeyFile()+".pub", ssh.MarshalAuthorizedKey(clientPub), 0o644); err != nil {
		return err
	}
	var known strings.Builder
	if s.TLS {
		if err := s.writePKI(); err != nil {
			return fmt.Errorf("lab: making certificates: %w", err)
		}
	}
	cluster := s.model()
	peers := map[string]string{}
	for _, h := range s.Members() {
		peers[h.Name] = h.PeerURL()
	}
	for _, h := range s.Hosts {
		for _, b := range hostBinds {
			if err := os.MkdirAll(filepath.Join(h.Root, b[0]), 0o755); err != nil {
				return err
			}
		}
		for _, d := range []string{"ssh", "var-log/etcd"} {
			if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
				return err
			}
		}
		if err := os.Chmod(filepath.Join(h.Root, "var-lib-etcd"), 0o700); err != nil {
			return err
		}
		_, hostKey, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		hostKeyFile := filepath.Join(h.Root, "ssh", "ssh_host_ed25519_key")
		if err := writePrivateKey(hostKeyFile, hostKey); err != nil {
			return err
		}
		hostPub, err := ssh.NewPublicKey(hostKey.Public())
		if err != nil {
			return err
		}
		known.WriteString(knownhosts.Line([]string{h.Addr}, hostPub) + "\n")
		sshdConfig := fmt.Sprintf(`# sshd for lab host %s
ListenAddress %s:%d
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
`, h.Name, h.Addr, SSHPort, hostKeyFile, filepath.Join(h.Root, "ssh", "sshd.pid"), authorized)
		if err := os.WriteFile(filepath.Join(h.Root, "ssh", "sshd_config"), []byte(sshdConfig), 0o644); err != nil {
			return err
		}
		for src, dst := range map[string]string{bins.Etcd: "etcd", bins.Etcdutl: "etcdutl"} {
			if err := linkOrCopy(src, filepath.Join(h.Root, "bin", dst)); err != nil {
				return err
			}
		}
		if s.systemd() {
			err = s.writeUnits(h, cluster)
		} else {
			err = runitServices(h)
		}
		if err != nil {
			return err
		}
		if !h.Member {
			continue
		}
		m := cluster.Member(h.Name)
		f := etcdconf.Render(cluster, m, etcdconf.Bootstrap{InitialCluster: etcdconf.InitialCluster(peers), Token: ClusterName, State: "new"})
		b, err := etcdconf.Marshal(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(h.Root, "etc-etcd", "etcd.conf.yml"), b, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(s.KnownHostsFile(), []byte(known.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(s.HCLFile(), []byte(s.hcl()), 0o644)
}

// runitServices writes the host's runit service dirs: sshd, etcd (down on
// a spare host, until a member is added to it) and cron when installed.
func runitServices(h Host) error {
	for _, d := range []string{"service/etcd", "service/sshd"} {
		if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(h.Root, "service", "sshd", "run"), []byte(fmt.Sprintf(
		"#!/bin/sh\nexec /usr/sbin/sshd -D -e -f %s 2>>%s\n", filepath.Join(h.Root, "ssh", "sshd_config"), filepath.Join(h.Root, "ssh", "sshd.log"))), 0o755); err != nil {
		return err
	}
	// etcd runs under runit the way a production host would run it.
	if err := os.WriteFile(filepath.Join(h.Root, "service", "etcd", "run"), []byte(fmt.Sprintf(
		"#!/bin/sh\n# etcd under runit; config in etcd's own YAML format.\nexec %s --config-file %s >>/var/log/etcd/etcd.log 2>&1\n", EtcdBinary, EtcdConfigFile)), 0o755); err != nil {
		return err
	}
	if !h.Member {
		// A spare host runs sshd only until a member is added to it.
		if err := os.WriteFile(filepath.Join(h.Root, "service", "etcd", "down"), nil, 0o644); err != nil {
			return err
		}
	}
	return cronService(h)
}

func writePrivateKey(path string, key ed25519.PrivateKey) error {
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
}

func linkOrCopy(src, dst string) error {
	_ = os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

// makeNetwork creates the bridge, and for each host a namespace and a veth
// pair whose inside end becomes eth0 with the host's address. Hosts get no
// default route: they reach only the lab subnet.
func (s *State) makeNetwork(ctx context.Context) error {
	bits := strings.SplitN(s.Subnet, "/", 2)[1]
	cmds := [][]string{
		{"link", "add", s.Bridge, "type", "bridge"},
		{"addr", "add", s.BridgeAddr + "/" + bits, "dev", s.Bridge},
		{"link", "set", s.Bridge, "up"},
	}
	for _, h := range s.Hosts {
		peer := h.Veth + "p"
		cmds = append(cmds,
			[]string{"netns", "add", h.Netns},
			[]string{"link", "add", h.Veth, "type", "veth", "peer", "name", peer},
			[]string{"link", "set", peer, "netns", h.Netns},
			[]string{"link", "set", h.Veth, "master", s.Bridge},
			[]string{"link", "set", h.Veth, "up"},
			[]string{"-n", h.Netns, "link", "set", "lo", "up"},
			[]string{"-n", h.Netns, "link", "set", peer, "name", "eth0"},
			[]string{"-n", h.Netns, "addr", "add", h.Addr + "/" + bits, "dev", "eth0"},
			[]string{"-n", h.Netns, "link", "set", "eth0", "up"},
		)
	}
	for _, c := range cmds {
		if err := ipCmd(ctx, c...); err != nil {
			return err
		}
	}
	return nil
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// hostBinds are the host's own directories (under its Root) and where they
// are bound in the host, whichever its init.
var hostBinds = [][2]string{
	{"etc-etcd", "/etc/etcd"},
	{"var-lib-etcd", EtcdDataDir},
	{"var-backups", "/var/backups"},
	// The host's whole /var/log (etcd's log in /var/log/etcd), so that a
	// backup job's log directory is missing on a fresh host, as on a
	// production one.
	{"var-log", "/var/log"},
	{"bin", "/usr/local/bin"},
	// The host's own root home: a production host's, not this
	// machine's (whose shell start-up files a login would run).
	{"root-home", "/root"},
	// The host's own cron.d, where apply installs backup jobs.
	{"etc-cron.d", "/etc/cron.d"},
	// The backup job's credentials, work dir and node_exporter textfile.
	{"etc-etcdform", "/etc/etcdform"},
	{"var-lib-etcdform", "/var/lib/etcdform"},
	{"var-lib-node-exporter", "/var/lib/prometheus/node-exporter"},
}

// bindScript is the shell that binds the hostBinds. Mount points must exist
// on the machine's root file system; an empty directory is created if it is
// missing.
func bindScript(h *Host) string {
	var b strings.Builder
	for _, m := range hostBinds {
		fmt.Fprintf(&b, "mkdir -p %s\nmount --bind %s %s\n", m[1], filepath.Join(h.Root, m[0]), m[1])
	}
	return b.String()
}

// startHost starts the host's init in the host's network namespace and a
// private mount namespace in which the hostBinds are made: runsvdir, which
// starts sshd and etcd from /etc/service, or systemd (bootSystemd).
func (s *State) startHost(ctx context.Context, h *Host) error {
	if s.systemd() {
		return s.bootSystemd(ctx, h)
	}
	var script strings.Builder
	script.WriteString("set -e\nmkdir -p /run/sshd\n")
	script.WriteString(bindScript(h))
	fmt.Fprintf(&script, "mkdir -p %s\nmount --bind %s %s\n", ServiceDir, filepath.Join(h.Root, "service"), ServiceDir)
	if _, err := os.Stat(CronBinary); err == nil {
		// cron's own pid file, the machine's crontab and its users'
		// crontabs stay out of the host: it runs /etc/cron.d (the host's) only.
		fmt.Fprintf(&script, "mount --bind %s /run\nmkdir -p /run/sshd\n", filepath.Join(h.Root, "run"))
		fmt.Fprintf(&script, "if [ -f /etc/crontab ]; then mount --bind %s /etc/crontab; fi\n", filepath.Join(h.Root, "crontab"))
		fmt.Fprintf(&script, "if [ -d /var/spool/cron/crontabs ]; then mount --bind %s /var/spool/cron/crontabs; fi\n", filepath.Join(h.Root, "cron-spool"))
	}
	fmt.Fprintf(&script, "exec runsvdir -P %s\n", ServiceDir)
	cmd, err := startInit(h, "unshare", "-m", "--propagation", "private", "sh", "-c", script.String())
	if err != nil {
		return err
	}
	h.PID = cmd.Process.Pid
	return nil
}

// startInit starts the host's init command in the host's network namespace,
// in a session of its own, logging to the host's init.log.
func startInit(h *Host, args ...string) (*exec.Cmd, error) {
	logf, err := os.OpenFile(filepath.Join(h.Root, "init.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.Netns}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: starting host %s: %w", h.Name, err)
	}
	go func() { _ = cmd.Wait() }() // reap it if it dies while we run
	return cmd, nil
}

// waitReady waits until every host's sshd accepts connections and every
// member answers /health with true.
func (s *State) waitReady(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(s.Hosts))
	for i, h := range s.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.waitHost(ctx, h)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *State) waitHost(ctx context.Context, h Host) error {
	sshAddr := net.JoinHostPort(h.Addr, fmt.Sprint(SSHPort))
	for {
		ok := dialOK(ctx, sshAddr)
		if ok && (!h.Member || s.MemberHealthy(ctx, h)) {
			return nil
		}
		what := "sshd"
		if ok {
			what = "etcd /health"
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: host %s (%s): %s did not answer in time; see %s and %s", h.Name, h.Addr, what,
				filepath.Join(h.Root, "init.log"), filepath.Join(h.Root, "var-log", "etcd", "etcd.log"))
		case <-time.After(50 * time.Millisecond): // poll interval
		}
	}
}

func dialOK(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Healthy reports whether clientURL/health answers {"health":"true"}.
func Healthy(ctx context.Context, clientURL string) bool {
	return healthy(ctx, http.DefaultClient, clientURL)
}

func healthy(ctx context.Context, c *http.Client, clientURL string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	buf := make([]byte, 256)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode == http.StatusOK && strings.Contains(string(buf[:n]), `"health":"true"`)
}

// subnetInUse reports an existing address or route overlapping p.
func subnetInUse(p netip.Prefix) (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifc := range ifaces {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			q, err := netip.ParsePrefix(ipn.String())
			if err == nil && q.Addr().Is4() && q.Overlaps(p) {
				return fmt.Sprintf("address %s on %s", ipn, ifc.Name), nil
			}
		}
	}
	out, err := exec.Command("ip", "-4", "route", "show").Output()
	if err != nil {
		return "", fmt.Errorf("lab: ip route: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "default" {
			continue
		}
		dst := f[0]
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if q, err := netip.ParsePrefix(dst); err == nil && q.Overlaps(p) {
			return "route " + line, nil
		}
	}
	return "", nil
}

// CronBinary is Debian's cron daemon. When it is installed every host runs
// it under runit, reading the host's own /etc/cron.d (where apply installs
// backup jobs).
const CronBinary = "/usr/sbin/cron"

func cronService(h Host) error {
	if _, err := os.Stat(CronBinary); err != nil {
		return nil
	}
	for _, d := range []string{"service/cron", "run", "cron-spool"} {
		if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(h.Root, "crontab"), []byte("# lab host: jobs live in /etc/cron.d\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.Root, "service", "cron", "run"), []byte(fmt.Sprintf(
		"#!/bin/sh\nexec %s -f >>%s 2>&1\n", CronBinary, filepath.Join(h.Root, "cron.log"))), 0o755)
}

// lockMachine takes a machine-wide lock for choosing and claiming a subnet.
func lockMachine() (func(), error) {
	f, err := os.OpenFile("/run/etcdform-lab.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: locking /run/etcdform-lab.lock: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// freeSubnet returns the first /24 in 10.213.16.0-10.213.239.0 that no
// address or route on this machine overlaps, starting from the one derived
// from the lab directory.
func freeSubnet(dir string) (netip.Prefix, error) {
	first, err := defaultSubnet(dir)
	if err != nil {
		return netip.Prefix{}, err
	}
	start := int(first.Addr().As4()[2]) - 16
	for i := 0; i < 224; i++ {
		p := netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", 16+(start+i)%224))
		clash, err := subnetInUse(p)
		if err != nil {
			return netip.Prefix{}, err
		}
		if clash == "" {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("lab: every /24 in 10.213.16.0/20-10.213.239.0 is in use; choose a subnet with --subnet")
}
