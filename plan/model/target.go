package model

import "time"

// Target is where a step acts on a member's host and with what: apply
// needs nothing from the configuration beyond it. It holds addresses, file
// paths and commands, never a secret (SSH keys and TLS keys are paths,
// read by the connector when it connects).
type Target struct {
	Host    HostAddr
	Service Service
	// ConfigFile, DataDir and Binary are the paths of etcd's config
	// file, data directory and binary on the host.
	ConfigFile string
	DataDir    string
	Binary     string
	// Version is the etcd version the binary must report before a new
	// member is added ("" accepts any).
	Version string
}

// HostAddr is how to reach a host over SSH.
type HostAddr struct {
	Host           string
	Port           int
	User           string
	PrivateKeyFile string // a path; "" with Agent
	Agent          bool
	KnownHostsFile string
	Sudo           bool
	Timeout        time.Duration
	Bastion        *Bastion
}

// Bastion is an SSH jump host. It uses the member connection's agent,
// known_hosts file and timeout.
type Bastion struct {
	Host           string
	Port           int
	User           string
	PrivateKeyFile string // a path; "" means the member connection's
}

// Service is how etcd is supervised on a host: a manager ("systemd",
// "runit" or "command"), the service's name, and the command manager's
// commands.
type Service struct {
	Manager        string
	Name           string
	StartCommand   string
	StopCommand    string
	StatusCommand  string
	RestartCommand string
	StopTimeout    time.Duration
	// User is the system user etcd runs as when etcdform installs the
	// service ("root": no dedicated user).
	User string
}

// ClusterTarget is how apply reaches one cluster's etcd: its client
// endpoints and the paths of the tool's TLS files (which the environment
// may override when apply connects), and whether it takes its pre-change
// snapshot through its backup job (it has a backup block).
type ClusterTarget struct {
	Name      string
	Endpoints []string
	CAFile    string
	CertFile  string
	KeyFile   string
	Backup    bool
}

// Target returns the ClusterTarget of the named cluster, or nil.
func (p *Plan) Target(cluster string) *ClusterTarget {
	for i := range p.Targets {
		if p.Targets[i].Name == cluster {
			return &p.Targets[i]
		}
	}
	return nil
}
