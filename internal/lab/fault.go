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
	FaultPartition = "partition" // cut the host off the bridge
	FaultHeal      = "heal"      // put it back
)

// Fault injects a fault into the named host.
func (s *State) Fault(ctx context.Context, kind, name string) error {
	h, err := s.Host(name)
	if err != nil {
		return err
	}
	switch kind {
	case FaultPartition:
		return ipCmd(ctx, "link", "set", h.Veth, "down")
	case FaultHeal:
		return ipCmd(ctx, "link", "set", h.Veth, "up")
	case FaultStop, FaultStart, FaultKill:
	default:
		return fmt.Errorf("lab: unknown fault %q (want stop, start, kill, partition or heal)", kind)
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
