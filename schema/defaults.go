package schema

import (
	"os"
	"path/filepath"
	"time"
)

// Defaults applied when the configuration leaves a setting out. The etcd
// ones are etcd's own defaults.
const (
	DefaultUser       = "root"
	DefaultSSHPort    = 22
	DefaultSSHTimeout = 10 * time.Second
	// DefaultKnownHostsFile is OpenSSH's: ~/.ssh/known_hosts of the user
	// who runs etcdform (defaultKnownHostsFile expands it).
	DefaultKnownHostsFile    = "~/.ssh/known_hosts"
	DefaultManager           = "systemd"
	DefaultServiceName       = "etcd"
	DefaultBinary            = "/usr/local/bin/etcd"
	DefaultConfigFile        = "/etc/etcd/etcd.conf.yml"
	DefaultDataDir           = "/var/lib/etcd"
	DefaultServiceUser       = "etcd"
	DefaultQuotaBackendBytes = int64(2 << 30)
	DefaultSnapshotCount     = uint64(10000)
	DefaultMaxRequestBytes   = int64(1572864)
	DefaultHeartbeat         = 100 * time.Millisecond
	DefaultElection          = time.Second
	DefaultCompactionMode    = "periodic"
	DefaultRetention         = "0s"
	DefaultMinRemaining      = 720 * time.Hour
	DefaultTLSDir            = "/etc/etcd/pki"
	DefaultPeerPort          = 2380
	DefaultClientPort        = 2379
)

// Limits checked by validation.
const (
	MinQuotaBackendBytes  = int64(16 << 20)
	MaxQuotaBackendBytes  = int64(100 << 30)
	WarnQuotaBackendBytes = int64(8 << 30) // etcd's suggested maximum
	MaxMembers            = 9
)

// defaultKnownHostsFile is OpenSSH's default, ~/.ssh/known_hosts, or ""
// (plan then says no known_hosts file was given) without a home directory.
func defaultKnownHostsFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

// NewCluster returns a cluster named name holding every cluster-level
// default the loader starts a cluster block from: the service's paths and
// manager, etcd's own storage, compaction and raft settings, and no
// fault_tolerance floor. Tests that build clusters in Go start here, so the
// defaults live only in the schema.
func NewCluster(name string) *Cluster {
	return &Cluster{
		Name:           name,
		FaultTolerance: -1,
		Service: Service{Manager: DefaultManager, Name: DefaultServiceName, Binary: DefaultBinary,
			ConfigFile: DefaultConfigFile, DataDir: DefaultDataDir, User: DefaultServiceUser},
		Storage:    Storage{QuotaBackendBytes: DefaultQuotaBackendBytes, SnapshotCount: DefaultSnapshotCount, MaxRequestBytes: DefaultMaxRequestBytes},
		Compaction: Compaction{Mode: DefaultCompactionMode, Retention: DefaultRetention},
		Raft:       Raft{HeartbeatInterval: DefaultHeartbeat, ElectionTimeout: DefaultElection},
		Logging:    Logging{Level: DefaultLogLevel},
	}
}
