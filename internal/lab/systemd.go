package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/etcdform/etcdform/schema"
)

// A systemd host: in the host's network namespace and private mount
// namespace (as for runit), with the host's own cgroup, /run, /tmp,
// /var/tmp, /var/lib/systemd and /etc/systemd/system, and with this
// machine's unit, generator, preset, tmpfiles.d and sysusers.d directories
// hidden behind an empty directory, systemd runs as PID 1 of a new PID (and
// UTS) namespace. It starts lab.target only: sshd, etcd (on a member) and
// timers.target, where backup jobs' timers are enabled.
//
// Hiding the machine's units is not optional: Debian's
// systemd-tmpfiles-setup.service would run `systemd-tmpfiles --remove` with
// tmp.conf's `D /tmp` and empty the machine's shared /tmp, and
// systemd-fstab-generator would mount the machine's /etc/fstab. The boot
// script runs under `set -e` and checks each hidden directory is empty
// before it execs systemd.

// SystemdBinary is the systemd a systemd host runs as its init.
const SystemdBinary = "/lib/systemd/systemd"

// Tools a systemd lab runs besides requiredTools.
var systemdTools = []struct{ path, pkg string }{
	{SystemdBinary, "systemd"},
	{"systemctl", "systemd"},
	{"nsenter", "util-linux"},
	{"mountpoint", "util-linux"},
}

// hiddenSystemdDirs are this machine's directories systemd would read
// units, generators, presets, tmpfiles.d and sysusers.d from.
var hiddenSystemdDirs = []string{
	"/usr/lib/systemd/system", "/lib/systemd/system", "/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system-generators", "/lib/systemd/system-generators",
	"/usr/local/lib/systemd/system-generators", "/etc/systemd/system-generators",
	"/usr/lib/systemd/system-environment-generators", "/lib/systemd/system-environment-generators",
	"/usr/local/lib/systemd/system-environment-generators", "/etc/systemd/system-environment-generators",
	"/usr/lib/systemd/system-preset", "/lib/systemd/system-preset",
	"/usr/local/lib/systemd/system-preset", "/etc/systemd/system-preset",
	"/usr/lib/systemd/system-shutdown", "/lib/systemd/system-shutdown",
	"/usr/lib/tmpfiles.d", "/usr/local/lib/tmpfiles.d", "/etc/tmpfiles.d",
	"/usr/lib/sysusers.d", "/usr/local/lib/sysusers.d", "/etc/sysusers.d",
}

// systemdDirs are the systemd host's own directories under its Root, bound
// over the machine's in the host's mount namespace before systemd starts.
var systemdDirs = [][2]string{
	{"etc-systemd", "/etc/systemd/system"},
	{"run", "/run"},
	{"var-lib-systemd", "/var/lib/systemd"},
}

// killDropIn is the runtime drop-in `fault kill` writes so that systemd does
// not restart the killed etcd, as `sv once` tells runit; `fault start`
// removes it. The path is in the host's /run, seen from this machine.
func (h Host) killDropIn() string {
	return filepath.Join(h.Root, "run", "systemd", "system", ServiceName+".service.d", "lab-fault-kill.conf")
}

// cgroupName names the host's cgroup, below the root of every hierarchy.
func (h Host) cgroupName() string { return "etcdform-" + h.Netns }

// writeUnits writes the systemd host's /etc/systemd/system: lab.target, the
// targets units with default dependencies need, sshd.service and
// etcd.service (enabled, that is wanted by lab.target, on a member only).
func (s *State) writeUnits(h Host, cluster *schema.Cluster) error {
	for _, d := range []string{"etc-systemd/lab.target.wants", "run", "var-lib-systemd", "empty"} {
		if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{"tmp", "var-tmp"} {
		if err := os.MkdirAll(filepath.Join(h.Root, d), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(h.Root, d), 0o1777); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(h.Root, "hostname"), []byte(h.Name+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(h.Root, "console.log"), nil, 0o644); err != nil {
		return err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(h.Root, "machine-id"), []byte(hex.EncodeToString(id)+"\n"), 0o444); err != nil {
		return err
	}
	units := map[string]string{
		"lab.target": "[Unit]\nDescription=etcdform lab host " + h.Name + "\nDefaultDependencies=no\nWants=timers.target\nAllowIsolate=yes\n",
		// timers.target is where `systemctl enable` puts a timer; the rest
		// are what units with default dependencies (a backup job's) order
		// against or require.
		"timers.target":         "[Unit]\nDescription=Timers\nDefaultDependencies=no\n",
		"sysinit.target":        "[Unit]\nDescription=System Initialization\nDefaultDependencies=no\n",
		"basic.target":          "[Unit]\nDescription=Basic System\nDefaultDependencies=no\n",
		"shutdown.target":       "[Unit]\nDescription=System Shutdown\nDefaultDependencies=no\n",
		"network.target":        "[Unit]\nDescription=Network\nDefaultDependencies=no\n",
		"network-online.target": "[Unit]\nDescription=Network is Online\nDefaultDependencies=no\n",
		"multi-user.target":     "[Unit]\nDescription=Multi-User System\nDefaultDependencies=no\n",
		"sshd.service": fmt.Sprintf(`[Unit]
Description=OpenSSH server of lab host %s
DefaultDependencies=no

[Service]
ExecStartPre=/bin/mkdir -p /run/sshd
ExecStart=/usr/sbin/sshd -D -e -f %s
StandardOutput=append:%s
KillMode=process
Restart=always
RestartSec=1

[Install]
WantedBy=lab.target
`, h.Name, filepath.Join(h.Root, "ssh", "sshd_config"), filepath.Join(h.Root, "ssh", "sshd.log")),
		// etcd as a production unit runs it, restarted when it fails (as
		// runit restarts it); no journald in the host, so its output is
		// appended to /var/log/etcd/etcd.log as under runit.
		ServiceName + ".service": fmt.Sprintf(`[Unit]
Description=etcd member on lab host %s
DefaultDependencies=no

[Service]
Type=simple
ExecStart=%s --config-file %s
StandardOutput=append:/var/log/etcd/etcd.log
Restart=on-failure
RestartSec=1
TimeoutStopSec=%d

[Install]
WantedBy=lab.target
`, h.Name, EtcdBinary, EtcdConfigFile, int(cluster.Service.StopTimeout.Seconds())),
	}
	if s.Bare() {
		delete(units, ServiceName+".service") // etcdform installs it
	}
	for name, text := range units {
		if err := os.WriteFile(filepath.Join(h.Root, "etc-systemd", name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	enabled := []string{"sshd.service"}
	if h.Member {
		enabled = append(enabled, ServiceName+".service")
	}
	for _, u := range enabled {
		if err := os.Symlink("/etc/systemd/system/"+u, filepath.Join(h.Root, "etc-systemd", "lab.target.wants", u)); err != nil {
			return err
		}
	}
	return nil
}

// bootScript is the shell that prepares the host's mount namespace and
// cgroup and execs systemd. Everything it binds from the lab directory is
// bound before the host's private /tmp and /var/tmp hide it; the lab
// directory itself (sshd's configuration and keys) stays visible at its own
// path when it is under one of them.
func (s *State) bootScript(h *Host, cg cgroupMode) (string, error) {
	var b strings.Builder
	b.WriteString("set -e\n")
	b.WriteString(bindScript(h))
	for _, m := range systemdDirs {
		fmt.Fprintf(&b, "mkdir -p %s\nmount --bind %s %s\n", m[1], filepath.Join(h.Root, m[0]), m[1])
	}
	fmt.Fprintf(&b, "if [ -f /etc/hostname ]; then mount --bind %s /etc/hostname; fi\n", filepath.Join(h.Root, "hostname"))
	// The host's own machine ID: systemd writes /etc/machine-id when it
	// finds it empty, and must never write the machine's.
	fmt.Fprintf(&b, "mount --bind %s /etc/machine-id\n", filepath.Join(h.Root, "machine-id"))
	// systemd as PID 1 writes to /dev/console: the host's is a file, so
	// nothing reaches this machine's console.
	fmt.Fprintf(&b, "mount --bind %s /dev/console\n", filepath.Join(h.Root, "console.log"))
	b.WriteString(cg.joinScript(h.cgroupName()))
	empty := filepath.Join(h.Root, "empty")
	seen := map[string]bool{}
	for _, d := range hiddenSystemdDirs {
		real, err := filepath.EvalSymlinks(d)
		if errors.Is(err, fs.ErrNotExist) || seen[real] {
			continue
		} else if err != nil {
			return "", fmt.Errorf("lab: %w", err)
		}
		seen[real] = true
		fmt.Fprintf(&b, "mount --bind %s %s\n[ -z \"$(ls -A %s)\" ]\n", empty, real, real)
	}
	private := [][2]string{{"var-tmp", "/var/tmp"}, {"tmp", "/tmp"}}
	var under string
	for _, p := range private {
		if strings.HasPrefix(s.Dir, p[1]+"/") {
			under = p[1]
		}
	}
	if under != "" {
		fmt.Fprintf(&b, "mkdir -p /run/etcdform-lab\nmount --bind %s /run/etcdform-lab\n", s.Dir)
	}
	for _, p := range private {
		fmt.Fprintf(&b, "mount --bind %s %s\n", filepath.Join(h.Root, p[0]), p[1])
	}
	if under != "" {
		fmt.Fprintf(&b, "mkdir -p %s\nmount --move /run/etcdform-lab %s\nrmdir /run/etcdform-lab\n", s.Dir, s.Dir)
	}
	b.WriteString("mkdir -p /run/sshd\nexport container=etcdform-lab\n")
	// --kill-child: if the unshare dies, so does systemd and with it, as
	// PID 1 of the host's PID namespace, every process of the host.
	// There is no journald: units without StandardOutput= of their own
	// write to /dev/null.
	// /proc/sys is read-only in the host, as in a container: systemd as
	// PID 1 would otherwise raise machine-wide limits (fs.nr_open).
	fmt.Fprintf(&b, "exec unshare --pid --uts --fork --kill-child=SIGKILL --mount-proc sh -c "+
		"'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec %s --system --unit=lab.target"+
		" --log-target=console --show-status=no --default-standard-output=null'\n", SystemdBinary)
	return b.String(), nil
}

// bootSystemd starts the systemd host and waits until its systemd runs.
func (s *State) bootSystemd(ctx context.Context, h *Host) error {
	cg, err := cgroupLayout()
	if err != nil {
		return err
	}
	script, err := s.bootScript(h, cg)
	if err != nil {
		return err
	}
	cmd, err := startInit(h, "unshare", "-m", "--propagation", "private", "sh", "-c", script)
	if err != nil {
		return err
	}
	// The started process becomes `unshare --fork`; systemd is its child.
	parent := cmd.Process.Pid
	return waitFor(ctx, 10*time.Second, func() bool {
		if pid := childNamed(parent, "systemd"); pid > 0 {
			h.PID = pid
			return true
		}
		return isZombie(parent) // the boot script failed: stop waiting
	}, fmt.Sprintf("lab: host %s: systemd did not start; see %s", h.Name, filepath.Join(h.Root, "init.log")))
}

// childNamed returns the PID of parent's child whose command is comm, or 0.
func childNamed(parent int, comm string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if c, _, ppid, ok := procStat(pid); ok && ppid == parent && c == comm {
			return pid
		}
	}
	return 0
}

// systemctl runs systemctl in the host's namespaces and returns its output.
func (h Host) systemctl(ctx context.Context, args ...string) (string, error) {
	if h.PID <= 0 {
		return "", fmt.Errorf("lab: %s: no systemd recorded", h.Name)
	}
	nsArgs := append([]string{"-t", strconv.Itoa(h.PID), "-m", "-u", "-n", "-p", "systemctl"}, args...)
	out, err := exec.CommandContext(ctx, "nsenter", nsArgs...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lab: %s: systemctl %s: %v: %s", h.Name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// unitActive reports whether systemctl is-active says the unit is active.
func (h Host) unitActive(ctx context.Context, unit string) bool {
	out, _ := h.systemctl(ctx, "is-active", unit)
	return strings.TrimSpace(out) == "active"
}

// systemdFault injects a fault through the host's systemd; kill mirrors
// runit's `sv once` and SIGKILL with a runtime drop-in Restart=no.
func (s *State) systemdFault(ctx context.Context, kind string, h *Host) error {
	unit := ServiceName + ".service"
	switch kind {
	case FaultStop:
		_, err := h.systemctl(ctx, "stop", unit)
		return err
	case FaultStart:
		if err := os.Remove(h.killDropIn()); err == nil {
			if _, err := h.systemctl(ctx, "daemon-reload"); err != nil {
				return err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("lab: %w", err)
		}
		_, err := h.systemctl(ctx, "start", unit)
		return err
	case FaultKill:
		if !h.unitActive(ctx, unit) {
			return fmt.Errorf("lab: %s: etcd is not running", h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(h.killDropIn()), 0o755); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		if err := os.WriteFile(h.killDropIn(), []byte("# etcdform lab fault kill: stays down until `lab fault start`.\n[Service]\nRestart=no\n"), 0o644); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		if _, err := h.systemctl(ctx, "daemon-reload"); err != nil {
			return err
		}
		if _, err := h.systemctl(ctx, "kill", "--signal=SIGKILL", "--kill-whom=main", unit); err != nil {
			return err
		}
		return waitFor(ctx, 10*time.Second, func() bool { return !h.unitActive(ctx, unit) },
			fmt.Sprintf("lab: %s: etcd still running after SIGKILL", h.Name))
	}
	panic("unreachable: systemd fault " + kind)
}

// cgroupMode is how this machine mounts its cgroup hierarchies, which a
// systemd host's mount namespace mounts the same way.
type cgroupMode struct {
	unified bool // cgroup2 at /sys/fs/cgroup
	hybrid  bool // cgroup2 at /sys/fs/cgroup/unified besides v1's name=systemd
}

const (
	cgroupSuperMagic  = 0x27e0eb
	cgroup2SuperMagic = 0x63677270
)

func fsType(path string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0
	}
	return int64(st.Type)
}

// cgroupLayout reads this machine's cgroup layout: unified (cgroup2 only),
// or v1 with a name=systemd hierarchy, hybrid when cgroup2 is mounted at
// /sys/fs/cgroup/unified too.
func cgroupLayout() (cgroupMode, error) {
	if fsType("/sys/fs/cgroup") == cgroup2SuperMagic {
		return cgroupMode{unified: true}, nil
	}
	if fsType("/sys/fs/cgroup/systemd") != cgroupSuperMagic {
		return cgroupMode{}, errors.New("a cgroup2 hierarchy at /sys/fs/cgroup or a name=systemd one at /sys/fs/cgroup/systemd (systemd hosts)")
	}
	return cgroupMode{hybrid: fsType("/sys/fs/cgroup/unified") == cgroup2SuperMagic}, nil
}

// joinScript mounts the hierarchies in the host's mount namespace (`ip
// netns exec` mounted a fresh /sys) and moves the script into the host's
// cgroup, which systemd then takes as its root.
func (m cgroupMode) joinScript(name string) string {
	var b strings.Builder
	join := func(root string) {
		fmt.Fprintf(&b, "mkdir -p %s/%s\necho $$ > %s/%s/cgroup.procs\n", root, name, root, name)
	}
	if m.unified {
		b.WriteString("mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup\n")
		join("/sys/fs/cgroup")
		return b.String()
	}
	b.WriteString("mountpoint -q /sys/fs/cgroup || mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup\n")
	b.WriteString("mkdir -p /sys/fs/cgroup/systemd\n")
	b.WriteString("mountpoint -q /sys/fs/cgroup/systemd || mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd\n")
	join("/sys/fs/cgroup/systemd")
	if m.hybrid {
		b.WriteString("mkdir -p /sys/fs/cgroup/unified\n")
		b.WriteString("mountpoint -q /sys/fs/cgroup/unified || mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified\n")
		join("/sys/fs/cgroup/unified")
	}
	return b.String()
}

// cgroupRoots lists where this machine mounts cgroup hierarchies.
func cgroupRoots() []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var roots []string
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) > 4 && len(g) > 0 && (g[0] == "cgroup" || g[0] == "cgroup2") && !slices.Contains(roots, f[4]) {
			roots = append(roots, f[4])
		}
	}
	return roots
}

// labCgroupName matches the cgroup of a lab host: etcdform-<netns>.
var labCgroupName = regexp.MustCompile(`^etcdform-(ef[0-9a-f]{5}-[0-9]+)$`)

// removeCgroups removes, in every hierarchy, the host cgroups whose netns
// name satisfies match, deepest first. The cgroups' processes must have
// exited; removal is retried while the kernel still counts them.
func removeCgroups(ctx context.Context, match func(netns string) bool) error {
	var errs []error
	for _, root := range cgroupRoots() {
		ents, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range ents {
			m := labCgroupName.FindStringSubmatch(e.Name())
			if !e.IsDir() || m == nil || !match(m[1]) {
				continue
			}
			dir := filepath.Join(root, e.Name())
			var last error
			err := waitFor(ctx, 5*time.Second, func() bool {
				last = removeTree(dir)
				return last == nil
			}, "lab: removing cgroup "+dir)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %v", err, last))
			}
		}
	}
	return errors.Join(errs...)
}

// removeTree removes a cgroup directory and its children, deepest first.
func removeTree(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
			return err
		}
	}
	return nil
}

// cgroupTreeEmpty reports whether no process is in dir or below it.
func cgroupTreeEmpty(dir string) bool {
	empty := true
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "cgroup.procs" {
			if data, err := os.ReadFile(p); err != nil || strings.TrimSpace(string(data)) != "" {
				empty = false
				return filepath.SkipAll
			}
		}
		return nil
	})
	return empty
}

// removeOrphanCgroups removes the host cgroups whose netns is gone and in
// which no process is left: what a lab killed during `down` leaves.
func removeOrphanCgroups(ctx context.Context) error {
	return removeCgroups(ctx, func(netns string) bool {
		if _, err := os.Stat("/run/netns/" + netns); err == nil {
			return false
		}
		for _, root := range cgroupRoots() {
			if !cgroupTreeEmpty(filepath.Join(root, "etcdform-"+netns)) {
				return false
			}
		}
		return true
	})
}

// nsInit reports whether pid is PID 1 of a PID namespace below this one:
// a systemd host's init, for which SIGTERM means "reexecute" and SIGKILL
// ends every process of the host.
func nsInit(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			return len(f) > 1 && f[len(f)-1] == "1"
		}
	}
	return false
}
