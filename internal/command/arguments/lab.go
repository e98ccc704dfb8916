package arguments

import (
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/lab"
)

// Lab holds `etcdform lab SUBCOMMAND` arguments.
type Lab struct {
	Sub         string // up | status | fault | down
	Dir         string
	Members     int
	Spare       int
	EtcdVersion string
	Subnet      string
	TLS         bool   // with Sub == "up": mutual TLS on client and peer URLs
	Init        string // with Sub == "up": the hosts' init, runit or systemd
	JSON        bool
	Fault       string // with Sub == "fault": one of lab.FaultKinds
	Target      string // with Sub == "fault": the member or host name
}

const labAbout = `  up      start a lab: hosts in network namespaces with sshd and etcd, lab.hcl describing them
  status  show each host: running, healthy, reachable
  fault   inject a fault into one host (etcdform lab fault -h lists them)
  down    stop the lab and remove what lab up made

Run 'etcdform lab <subcommand> -h' for its flags.
`

const faultAbout = `KIND is one of:
  stop       stop the member's etcd through the host's init (runit or systemd)
  start      start it again (also after kill)
  kill       SIGKILL etcd, and keep the init from restarting it until start
  partition  take the host's veth off the bridge: it reaches no other host, nor the runner
  blackhole  drop every packet between the host and the other hosts, silently, both ways;
             the runner still reaches it (SSH, client URL)
  cut-ssh    reset the host's open SSH connections (ss -K in its namespace); new ones work
  heal       undo partition and blackhole

MEMBER is a member or host name of the lab (etcd-1, spare-1...).
`

// ParseLab parses `etcdform lab up|status|fault|down [flags]`.
func ParseLab(args []string) (*Lab, *flag.FlagSet, error) {
	a := &Lab{}
	fs := newFlagSet("lab", "lab <up|status|fault|down> [flags]", labAbout)
	if len(args) == 0 {
		return a, fs, fmt.Errorf("lab: missing subcommand (up, status, fault, down)")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return a, fs, ErrHelp
	}
	a.Sub = args[0]
	switch a.Sub {
	case "fault":
		fs = newFlagSet("lab fault", "lab fault [flags] KIND MEMBER", faultAbout)
	default:
		fs = newFlagSet("lab "+a.Sub, "lab "+a.Sub+" [flags]", "")
	}
	fs.StringVar(&a.Dir, "dir", ".lab", "the lab `DIR`, which holds state.json, lab.hcl, SSH key, known_hosts")
	switch a.Sub {
	case "up":
		fs.IntVar(&a.Members, "members", 3, "number of etcd members (1-7; 0 with --spare: bare hosts to bootstrap a cluster on)")
		fs.IntVar(&a.Spare, "spare", 0, "extra hosts with sshd and the etcd binary but no member (with --members 0: sshd and no etcd)")
		fs.StringVar(&a.EtcdVersion, "etcd-version", "", "etcd `VERSION` to build and run, x.y.z or x.y.z-pre (default: the pinned 3.6.x)")
		fs.StringVar(&a.Subnet, "subnet", "", "IPv4 `CIDR` for the lab bridge (default: the first free /24 in 10.213.0.0/16, searching from one derived from --dir)")
		fs.BoolVar(&a.TLS, "tls", false, "mutual TLS on client and peer URLs, with a generated CA and certificates in DIR/pki")
		fs.StringVar(&a.Init, "init", "runit", "the hosts' init: runit, or systemd (PID 1 of each host's PID namespace; etcd and sshd as units)")
	case "status":
		fs.BoolVar(&a.JSON, "json", false, "print as JSON")
	case "fault", "down":
	default:
		return a, fs, fmt.Errorf("lab: unknown subcommand %q (want up, status, fault, down)", a.Sub)
	}
	if err := parse(fs, args[1:]); err != nil {
		return a, fs, err
	}
	if a.Sub == "up" {
		if (a.Members < 1 && !(a.Members == 0 && a.Spare > 0)) || a.Members > lab.MaxMembers {
			return a, fs, fmt.Errorf("lab up: --members must be between 1 and %d, or 0 with --spare (bare hosts), not %d", lab.MaxMembers, a.Members)
		}
		if a.Spare < 0 || a.Spare > lab.MaxSpare {
			return a, fs, fmt.Errorf("lab up: --spare must be between 0 and %d, not %d", lab.MaxSpare, a.Spare)
		}
		if a.EtcdVersion != "" {
			if etcdbin.CheckVersion(a.EtcdVersion) != nil {
				return a, fs, fmt.Errorf("lab up: --etcd-version %q is not a version such as %s or 3.6.0-rc.1", a.EtcdVersion, etcdbin.DefaultVersion)
			}
		}
	}
	rest := fs.Args()
	if a.Sub == "fault" {
		if len(rest) != 2 {
			return a, fs, fmt.Errorf("lab fault: want KIND MEMBER (KIND is %s)", strings.Join(lab.FaultKinds, ", "))
		}
		a.Fault, a.Target = rest[0], rest[1]
		if !slices.Contains(lab.FaultKinds, a.Fault) {
			return a, fs, fmt.Errorf("lab fault: unknown fault %q (want %s)", a.Fault, strings.Join(lab.FaultKinds, ", "))
		}
		return a, fs, nil
	}
	if len(rest) > 0 {
		return a, fs, fmt.Errorf("lab %s: unexpected argument %q", a.Sub, rest[0])
	}
	return a, fs, nil
}
