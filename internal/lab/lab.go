// Package lab is etcdform's test bed: real etcd members on real hosts reached
// over real SSH, all on one machine. Each host is a network namespace with its
// own address on a private bridge and its own mount namespace, in which
// runit's runsvdir supervises a real OpenSSH sshd and a real etcd. With
// Options.Init "systemd" the host's init is instead a real systemd, PID 1 of
// the host's own PID namespace, running sshd and etcd as units (systemd.go).
// The lab writes a lab.hcl describing itself, an SSH key and a known_hosts
// file, so etcdform plans and applies against it exactly as against
// production.
//
// Names of every kernel object the lab makes carry a prefix derived from the
// lab directory, so two labs (a test run beside a demo) never collide, and
// the leftovers of a lab whose processes died can be found and removed.
package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Limits on the lab's size.
const (
	MaxMembers = 7
	MaxSpare   = 4
	ClientPort = 2379
	PeerPort   = 2380
	SSHPort    = 22
)

// Paths inside every host, as production hosts have them.
const (
	EtcdConfigFile = "/etc/etcd/etcd.conf.yml"
	EtcdDataDir    = "/var/lib/etcd"
	EtcdBinary     = "/usr/local/bin/etcd"
	ServiceDir     = "/etc/service" // runit's SVDIR
	ServiceName    = "etcd"         // runit service and systemd unit
	ClusterName    = "lab"
)

// The hosts' init, Options.Init.
const (
	InitRunit   = "runit"   // runsvdir supervises /etc/service (the default)
	InitSystemd = "systemd" // systemd, PID 1 of the host's PID namespace
)

// ErrAlreadyUp is returned by Up when the directory already holds a live lab.
var ErrAlreadyUp = errors.New("lab: a lab is already up in this directory (run `etcdform lab down` first)")

// ErrNotUp is returned when the directory holds no lab.
var ErrNotUp = errors.New("lab: no lab in this directory (run `etcdform lab up` first)")

// Options configure Up.
type Options struct {
	Dir string // default ".lab"
	// Members is the number of members (default 3); 0 with Spare > 0
	// makes a bare lab: Spare hosts with sshd and no etcd at all (no
	// binary, no service), and a lab.hcl whose cluster has one member per
	// host, for etcdform to bootstrap.
	Members     int
	Spare       int    // hosts with sshd and the etcd binary but no member
	EtcdVersion string // default etcdbin.DefaultVersion
	Subnet      string // an IPv4 /24 (or larger); default derived from Dir
	// TLS runs mutual TLS on client and peer URLs (see tls.go).
	TLS bool
	// Init is the hosts' init: InitRunit (when empty) or InitSystemd.
	Init string
}

// State is what state.json records of a running lab.
type State struct {
	Dir         string `json:"dir"`
	Prefix      string `json:"prefix"`
	Subnet      string `json:"subnet"`
	Bridge      string `json:"bridge"`
	BridgeAddr  string `json:"bridge_addr"`
	EtcdVersion string `json:"etcd_version"`
	TLS         bool   `json:"tls,omitempty"`
	// Init is InitRunit or InitSystemd; empty (a state.json of an older
	// lab) means InitRunit.
	Init string `json:"init,omitempty"`
	// ReleaseSource is lab.hcl's install source: the release tarballs
	// etcdbin.Publish serves for every version built on this machine.
	ReleaseSource string `json:"release_source,omitempty"`
	Hosts         []Host `json:"hosts"`
}

// Bare reports whether the lab has hosts and no member: hosts with sshd
// and no etcd, for a bootstrap.
func (s *State) Bare() bool { return len(s.Members()) == 0 && len(s.Hosts) > 0 }

// systemd reports whether the hosts' init is systemd.
func (s *State) systemd() bool { return s.Init == InitSystemd }

// Host is one namespace host.
type Host struct {
	Name   string `json:"name"`   // member name ("etcd-1") or spare name ("spare-1")
	Member bool   `json:"member"` // false for a spare host
	Netns  string `json:"netns"`
	Veth   string `json:"veth"` // the root-namespace end, on the bridge
	Addr   string `json:"addr"`
	Root   string `json:"root"` // per-host directory in the lab dir
	// PID is the host's init: runsvdir, or systemd (as this machine's PID
	// namespace numbers it; it is PID 1 of the host's own).
	PID int `json:"pid"`
	// TLS: the member's client and peer URLs are https.
	TLS bool `json:"tls,omitempty"`
}

// ClientURL is the member's client URL.
func (h Host) ClientURL() string { return fmt.Sprintf("%s://%s:%d", h.scheme(), h.Addr, ClientPort) }

// PeerURL is the member's peer URL.
func (h Host) PeerURL() string { return fmt.Sprintf("%s://%s:%d", h.scheme(), h.Addr, PeerPort) }

// serviceDir is the root-namespace path of the host's runit service dir
// for svc; `sv` accepts it directly.
func (h Host) serviceDir(svc string) string { return filepath.Join(h.Root, "service", svc) }

// Host returns the host with the given name.
func (s *State) Host(name string) (*Host, error) {
	for i := range s.Hosts {
		if s.Hosts[i].Name == name {
			return &s.Hosts[i], nil
		}
	}
	return nil, fmt.Errorf("lab: no host or member named %q in %s", name, s.Dir)
}

// Members returns the hosts that run a member.
func (s *State) Members() []Host {
	var out []Host
	for _, h := range s.Hosts {
		if h.Member {
			out = append(out, h)
		}
	}
	return out
}

// File paths in the lab directory.
func (s *State) KeyFile() string        { return filepath.Join(s.Dir, "id_ed25519") }
func (s *State) KnownHostsFile() string { return filepath.Join(s.Dir, "known_hosts") }
func (s *State) HCLFile() string        { return filepath.Join(s.Dir, "lab.hcl") }

// Prefix returns the name prefix for a lab in dir: "ef" and 5 hex digits of
// a hash of the absolute path, short enough for 15-character interface
// names.
func Prefix(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return "ef" + hex.EncodeToString(sum[:])[:5], nil
}

// defaultSubnet derives a /24 in 10.213.0.0/16 from the lab's prefix hash,
// so that two labs get different subnets.
func defaultSubnet(dir string) (netip.Prefix, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return netip.Prefix{}, err
	}
	sum := sha256.Sum256([]byte(abs))
	third := 16 + int(sum[3])%224
	return netip.ParsePrefix(fmt.Sprintf("10.213.%d.0/24", third))
}

// Load reads state.json from dir. It trusts the file only as far as the
// names in it derive from dir: the recorded directory must be dir itself
// (not the original of a copied or moved lab directory), and every bridge,
// namespace, veth and host directory must carry the names lab up gives
// them there. A host's PID is kept only while the kernel shows that
// process inside the host's namespace (a dead lab's PID may have been
// reused by an unrelated process).
func Load(dir string) (*State, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(abs, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotUp
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("lab: %s/state.json is corrupt: %w", abs, err)
	}
	if err := s.check(abs); err != nil {
		return nil, fmt.Errorf("lab: %s/state.json does not describe a lab in %s: %w; nothing was changed", abs, abs, err)
	}
	for i := range s.Hosts {
		if h := &s.Hosts[i]; h.PID > 0 && !inNetns(h.PID, h.Netns) {
			h.PID = 0
		}
	}
	return &s, nil
}

var hostName = regexp.MustCompile(`^(etcd|spare)-[1-9][0-9]?$`)

// check reports the first name in s that does not derive from the lab
// directory abs the way Up names it.
func (s *State) check(abs string) error {
	if s.Dir != abs {
		return fmt.Errorf("it records the lab in %s (is this a copy or a moved lab directory? run `etcdform lab down --dir %s` for that lab, and remove this copy with rm -r)", s.Dir, s.Dir)
	}
	prefix, err := Prefix(abs)
	if err != nil {
		return err
	}
	if s.Prefix != prefix || s.Bridge != prefix+"br" {
		return fmt.Errorf("its prefix %q and bridge %q are not this directory's %q and %q", s.Prefix, s.Bridge, prefix, prefix+"br")
	}
	subnet, err := netip.ParsePrefix(s.Subnet)
	if err != nil {
		return fmt.Errorf("subnet %q: %w", s.Subnet, err)
	}
	if len(s.Hosts) > MaxMembers+MaxSpare {
		return fmt.Errorf("it lists %d hosts; a lab has at most %d", len(s.Hosts), MaxMembers+MaxSpare)
	}
	for i, h := range s.Hosts {
		want := Host{
			Name: h.Name, Netns: fmt.Sprintf("%s-%d", prefix, i+1), Veth: fmt.Sprintf("%sv%d", prefix, i+1),
			Root: filepath.Join(abs, "hosts", h.Name),
		}
		addr, err := netip.ParseAddr(h.Addr)
		switch {
		case !hostName.MatchString(h.Name):
			return fmt.Errorf("host %d has the name %q; lab hosts are named etcd-N or spare-N", i+1, h.Name)
		case h.Netns != want.Netns || h.Veth != want.Veth:
			return fmt.Errorf("host %s has namespace %q and veth %q, not %q and %q", h.Name, h.Netns, h.Veth, want.Netns, want.Veth)
		case h.Root != want.Root:
			return fmt.Errorf("host %s has its directory at %s, not %s", h.Name, h.Root, want.Root)
		case err != nil || !subnet.Contains(addr):
			return fmt.Errorf("host %s has the address %q, outside the lab's subnet %s", h.Name, h.Addr, s.Subnet)
		}
	}
	return nil
}

// inNetns reports whether process pid is in the network namespace named ns.
func inNetns(pid int, ns string) bool {
	a, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return false
	}
	b, err := os.Stat(filepath.Join("/run/netns", ns))
	return err == nil && os.SameFile(a, b)
}

func (s *State) save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.Dir, "state.json"), append(data, '\n'), 0o644)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Path is where the file at p inside the host lives on this machine: p
// under the host's own directory that is bound over it (the longest of
// hostBinds that holds p), or "" when p is on the machine's shared file
// system.
func (h Host) Path(p string) string {
	best, dst := "", ""
	for _, b := range hostBinds {
		if (p == b[1] || strings.HasPrefix(p, b[1]+"/")) && len(b[1]) > len(dst) {
			best, dst = b[0], b[1]
		}
	}
	if dst == "" {
		return ""
	}
	return filepath.Join(h.Root, best, strings.TrimPrefix(p, dst))
}
