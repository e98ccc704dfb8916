package lab

// The lab's network: a machine-wide lock while a subnet is chosen and
// claimed, and the bridge, namespaces and veth pairs on it.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

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
