package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemberStatus is one line of `lab status`.
type MemberStatus struct {
	Name      string `json:"name"`
	Member    bool   `json:"member"`
	Addr      string `json:"addr"`
	ClientURL string `json:"client_url"`
	Running   bool   `json:"running"`   // the etcd process runs (runit says "run", systemd "active")
	Healthy   bool   `json:"healthy"`   // /health answered true
	Reachable bool   `json:"reachable"` // the host is on the bridge (not partitioned)
}

// Status reports every host of the lab. Each check is made fresh.
func (s *State) Status(ctx context.Context) []MemberStatus {
	out := make([]MemberStatus, len(s.Hosts))
	var wg sync.WaitGroup
	for i, h := range s.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := MemberStatus{Name: h.Name, Member: h.Member, Addr: h.Addr, ClientURL: h.ClientURL()}
			if s.systemd() {
				st.Running = h.unitActive(ctx, ServiceName+".service")
			} else {
				st.Running = serviceRunning(h.serviceDir("etcd"))
			}
			st.Reachable = linkUp(h.Veth)
			if st.Running && st.Reachable {
				st.Healthy = s.MemberHealthy(ctx, h)
			}
			out[i] = st
		}()
	}
	wg.Wait()
	return out
}

// serviceRunning reads runit's supervise/stat for the service.
func serviceRunning(svc string) bool {
	data, err := os.ReadFile(filepath.Join(svc, "supervise", "stat"))
	return err == nil && strings.HasPrefix(string(data), "run")
}

func linkUp(dev string) bool {
	data, err := os.ReadFile(filepath.Join("/sys/class/net", dev, "operstate"))
	if err != nil {
		return false
	}
	s := strings.TrimSpace(string(data))
	if s == "up" {
		return true
	}
	// A bridge port can report "unknown"; fall back to the admin flag.
	flags, err := os.ReadFile(filepath.Join("/sys/class/net", dev, "flags"))
	if err != nil {
		return false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(string(flags), "0x")), 16, 64)
	return err == nil && v&1 == 1 && s != "down"
}

// Fault kinds.
const (
	FaultStop      = "stop"      // graceful stop through runit (sv down) or systemd (systemctl stop)
	FaultStart     = "start"     // start through runit (sv up) or systemd (systemctl start)
	FaultKill      = "kill"      // SIGKILL; runit or systemd is told not to restart it
	FaultPartition = "partition" // cut the host off the bridge: it reaches no other host, nor the runner
	// FaultBlackhole drops every packet between the host and the other
	// hosts of the lab, silently, both ways (no reset, no ICMP): a peer
	// link that went dark. The runner still reaches the host (SSH, the
	// client URL), as an operator whose network path differs would.
	FaultBlackhole = "blackhole"
	// FaultCutSSH resets every established connection to the host's sshd
	// (the kernel's socket destroy, `ss -K`, inside the host's namespace):
	// the SSH clients see their connection drop mid-command, sshd keeps
	// listening, and a new connection works.
	FaultCutSSH = "cut-ssh"
	FaultHeal   = "heal" // undo partition and blackhole
)

// FaultKinds lists every fault kind, for the CLI and its help.
var FaultKinds = []string{FaultStop, FaultStart, FaultKill, FaultPartition, FaultBlackhole, FaultCutSSH, FaultHeal}

// Fault injects a fault into the named host.
func (s *State) Fault(ctx context.Context, kind, name string) error {
	h, err := s.Host(name)
	if err != nil {
		return err
	}
	switch kind {
	case FaultPartition:
		return ipCmd(ctx, "link", "set", h.Veth, "down")
	case FaultBlackhole:
		return s.blackhole(ctx, h)
	case FaultCutSSH:
		return cutSSH(ctx, h)
	case FaultHeal:
		if err := s.unblackhole(ctx, h); err != nil {
			return err
		}
		return ipCmd(ctx, "link", "set", h.Veth, "up")
	case FaultStop, FaultStart, FaultKill:
	default:
		return fmt.Errorf("lab: unknown fault %q (want %s)", kind, strings.Join(FaultKinds, ", "))
	}
	if s.systemd() {
		return s.systemdFault(ctx, kind, h)
	}
	svc := h.serviceDir("etcd")
	switch kind {
	case FaultStop:
		return sv(ctx, "-w", "30", "down", svc)
	case FaultStart:
		return sv(ctx, "-w", "30", "up", svc)
	case FaultKill:
		// "once": runit will not restart it when it dies, so the member
		// stays down until `fault start`, like a crashed member whose
		// supervisor gave up.
		if err := sv(ctx, "once", svc); err != nil {
			return err
		}
		data, err := os.ReadFile(filepath.Join(svc, "supervise", "pid"))
		if err != nil {
			return fmt.Errorf("lab: %s: etcd is not running", name)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			return fmt.Errorf("lab: %s: etcd is not running", name)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("lab: kill %s (pid %d): %w", name, pid, err)
		}
		return waitFor(ctx, 10*time.Second, func() bool { return !serviceRunning(svc) },
			fmt.Sprintf("lab: %s: etcd still running after SIGKILL", name))
	}
	panic("unreachable: runit fault " + kind)
}

// darkMAC is the link-layer address a blackholed host's neighbours are
// pinned to: locally administered and never given to an interface, so the
// bridge floods such frames and every host drops them as addressed to
// another. No kernel module beyond the bridge is needed (this machine has
// neither iptables nor tc's actions).
const darkMAC = "02:00:00:00:00:00"

// blackhole pins, on h, every other host's address to darkMAC and, on
// every other host, h's address: frames between h and them go nowhere,
// both ways, while the runner (the bridge address) is untouched.
func (s *State) blackhole(ctx context.Context, h *Host) error {
	for _, o := range s.Hosts {
		if o.Name == h.Name {
			continue
		}
		if err := ipCmd(ctx, "-n", h.Netns, "neigh", "replace", o.Addr, "lladdr", darkMAC, "dev", "eth0", "nud", "permanent"); err != nil {
			return err
		}
		if err := ipCmd(ctx, "-n", o.Netns, "neigh", "replace", h.Addr, "lladdr", darkMAC, "dev", "eth0", "nud", "permanent"); err != nil {
			return err
		}
	}
	return nil
}

// unblackhole removes what blackhole pinned (the lab pins no neighbour
// otherwise); the hosts then resolve each other by ARP again. Healing one
// of two blackholed hosts leaves the other dark to it.
func (s *State) unblackhole(ctx context.Context, h *Host) error {
	if err := ipCmd(ctx, "-n", h.Netns, "neigh", "flush", "dev", "eth0", "nud", "permanent"); err != nil {
		return err
	}
	for _, o := range s.Hosts {
		if o.Name != h.Name {
			if err := ipCmd(ctx, "-n", o.Netns, "neigh", "flush", "to", h.Addr, "nud", "permanent"); err != nil {
				return err
			}
		}
	}
	return nil
}

// cutSSH destroys the host's established TCP connections on the SSH port,
// inside its namespace; the kernel sends the other end a reset.
func cutSSH(ctx context.Context, h *Host) error {
	args := []string{"netns", "exec", h.Netns, "ss", "-K", "-t", "state", "established", fmt.Sprintf("( sport = :%d )", SSHPort)}
	if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("lab: cut-ssh %s: ss -K: %v: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	// ss -K succeeds without destroying anything on a kernel built
	// without socket destroy (CONFIG_INET_DIAG_DESTROY): look.
	args[4] = "-H"
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: cut-ssh %s: ss: %v: %s", h.Name, err, strings.TrimSpace(string(out)))
	}
	if left := strings.TrimSpace(string(out)); left != "" {
		return fmt.Errorf("lab: cut-ssh %s: connections survived ss -K (does the kernel have CONFIG_INET_DIAG_DESTROY?):\n%s", h.Name, left)
	}
	return nil
}

// StopHold holds one stop of a member's etcd open (HoldStop).
type StopHold struct {
	name string
	dir  string // the runit service dir, runsv's working directory
}

// holdScript is runit's finish script that HoldStop installs. It runs
// once: it removes itself, says it holds, and waits for the release (at
// most a minute, so that a test that dies cannot wedge the host).
const holdScript = `#!/bin/sh
# Written by the etcdform lab's HoldStop: holds one stop of etcd open.
rm -f finish
: > held
i=0
while [ ! -e release ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done
rm -f held release
`

// HoldStop makes the next stop of the named member's etcd (the stop half
// of a restart too) hang after etcd exited, until Release. runit runs the
// service's finish script then, and says "finish" instead of "down"
// meanwhile, so whoever waits for the stop (sv, a restart) waits on. A
// test thereby acts at a known point in the middle of a stop, on a
// condition (Held) instead of a race. Hosts run by runit only.
func (s *State) HoldStop(name string) (*StopHold, error) {
	h, err := s.Host(name)
	if err != nil {
		return nil, err
	}
	if s.systemd() {
		return nil, fmt.Errorf("lab: HoldStop %s: the hosts run systemd; only runit hosts can hold a stop", name)
	}
	hold := &StopHold{name: name, dir: h.serviceDir(ServiceName)}
	for _, f := range []string{"held", "release"} {
		if err := os.Remove(filepath.Join(hold.dir, f)); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("lab: %w", err)
		}
	}
	if err := writeFileAtomic(filepath.Join(hold.dir, "finish"), []byte(holdScript), 0o755); err != nil {
		return nil, fmt.Errorf("lab: HoldStop %s: %w", name, err)
	}
	return hold, nil
}

// Held reports whether the stop is being held now: etcd has exited and
// runit waits for the release.
func (h *StopHold) Held() bool {
	_, err := os.Stat(filepath.Join(h.dir, "held"))
	return err == nil
}

// Release lets a held stop finish and waits until it has; a hold whose
// stop never came is removed.
func (h *StopHold) Release(ctx context.Context) error {
	if err := os.Remove(filepath.Join(h.dir, "finish")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("lab: %w", err)
	}
	if !h.Held() {
		return nil
	}
	if err := os.WriteFile(filepath.Join(h.dir, "release"), nil, 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return waitFor(ctx, 10*time.Second, func() bool { return !h.Held() },
		fmt.Sprintf("lab: %s: the held stop did not end after its release", h.name))
}

func sv(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "sv", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: sv %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool, msg string) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s (waited %s)", msg, d)
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
	return nil
}

// Commands returns the command lines of the live processes in the named
// host (its network namespace), for a test that waits until a command it
// cut off from its SSH client has ended.
func (s *State) Commands(name string) ([]string, error) {
	h, err := s.Host(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, pid := range netnsPIDs(h.Netns) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(data) == 0 {
			continue // gone, or a kernel thread
		}
		out = append(out, strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " ")))
	}
	return out, nil
}
