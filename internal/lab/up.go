package lab

import (
	"context"
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

	"github.com/etcdform/etcdform/internal/etcdbin"
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
	// No members with spare hosts is a bare lab: hosts with sshd and no
	// etcd, for a bootstrap.
	bare := opts.Members == 0 && opts.Spare > 0
	if opts.Members == 0 && !bare {
		opts.Members = 3
	}
	if (opts.Members < 1 && !bare) || opts.Members > MaxMembers {
		return nil, fmt.Errorf("lab: --members must be between 1 and %d (or 0 with --spare), not %d", MaxMembers, opts.Members)
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
	// lab.hcl's install block serves every version built here.
	if err := etcdbin.Publish(); err != nil {
		return nil, err
	}
	releases, err := etcdbin.ReleaseSource()
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
		Init: opts.Init, ReleaseSource: releases,
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
// The connection is closed after the answer, as HealthyTLS's is: an idle
// keep-alive connection left to a member would count as one of its clients,
// and one that comes back only at its next request (apply's wait for a
// restarted member's clients would wait for it until its bound).
func Healthy(ctx context.Context, clientURL string) bool {
	return healthy(ctx, healthClient, clientURL)
}

// healthClient is Healthy's HTTP client: no keep-alive.
var healthClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

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
