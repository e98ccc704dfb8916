package state

import (
	"fmt"
	"time"

	"github.com/etcdform/etcdform/internal/etcdconf"
)

// Observed is the live state of every cluster of a configuration, as the
// providers saw it at one moment. It holds facts only: no secrets, no key
// material (certificates are described by hash, serial and dates).
type Observed struct {
	Time     time.Time
	Clusters map[string]*Cluster // by cluster name
}

// Cluster is what the etcd client and SSH saw of one cluster.
type Cluster struct {
	Name string
	// Reachable is false when no endpoint answered the etcd client; Error
	// then says why. SSH facts in Hosts may still be present.
	Reachable      bool
	Error          string
	ClusterID      uint64
	ClusterVersion string
	LeaderID       uint64 // 0 when no member reports a leader
	Members        []Member
	Alarms         []Alarm
	// Hosts holds the SSH facts per desired member name (and per removed
	// member name when its host is known from its URLs).
	Hosts map[string]*Host
	// ToolCert describes etcdform's own client certificate for this
	// cluster (tls.tool or ETCDFORM_ETCD_CERT), read locally; nil when the
	// tool presents none. Its key is never read into the model.
	ToolCert *CertInfo
	// Release is the install block's artifact for etcd_version, fetched
	// and checked where etcdform runs; nil when it was not needed (no
	// install block, or every reachable host has that version).
	Release *Release
	// Backups is what the backup destination held; nil when the cluster
	// has no backup block or it was not observed. See plan/backup.go.
	Backups *Backups
	// CredentialsSHA256 is the sha256 (hex) of the backup block's
	// s3.credentials_source, read where etcdform runs; "" when there is
	// none or it cannot be read (CredentialsError says why).
	CredentialsSHA256 string
	CredentialsError  string
	// Auth is etcd's auth store, observed when the cluster has an auth
	// block; nil otherwise.
	Auth *Auth
}

// Release is a release tarball fetched from a cluster's install source
// and checked against its sha256, with the binaries extracted from it
// into the local cache; Error says why it cannot be installed (unreadable,
// a sha256 mismatch), the other fields are then empty.
type Release struct {
	Version string
	Source  string // the expanded source: a local path or an https URL
	SHA256  string // the tarball's, checked
	SumFrom string // where the expected sum came from
	Etcd    ReleaseBinary
	Etcdutl ReleaseBinary
	Error   string
}

// ReleaseBinary is one binary extracted from a release, on the machine
// running etcdform.
type ReleaseBinary struct {
	Path   string
	SHA256 string
	Size   int64
}

// Backups is what a cluster's backup destination held when it was
// observed: only facts about the newest snapshot, never its content.
type Backups struct {
	Destination string
	Count       int       // complete snapshots of this cluster
	Newest      time.Time // zero when Count is 0
	// Snapshots are the records of this cluster's complete snapshots,
	// oldest first (what `plan --restore-from` chooses from).
	Snapshots []BackupRecord
	// Error says why the destination could not be listed (no
	// credentials, unreachable); the other fields are then unknown.
	Error string
}

// BackupRecord is what `etcdform backup run` recorded of one snapshot (its
// sidecar): facts only, no secret.
type BackupRecord struct {
	ID          string
	Object      string // the object's name at the destination
	Time        time.Time
	Revision    int64
	KeyCount    int64
	SHA256      string // of the plaintext snapshot, trailing hash included
	Size        int64  // plaintext bytes
	Encrypted   bool
	Recipient   string // age public key
	EtcdVersion string
}

// Member is one entry of the live member list, joined with that
// endpoint's status.
type Member struct {
	ID         uint64
	Name       string // "" for a member added but never started
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
	// Status is nil when the endpoint did not answer; StatusError says why.
	Status      *EndpointStatus
	StatusError string
}

// EndpointStatus is the Maintenance.Status answer of one endpoint.
type EndpointStatus struct {
	// MemberID is the member that answered (its response header): behind
	// a shared or misadvertised URL, not always the member asked about.
	MemberID    uint64
	Version     string
	DBSize      int64
	DBSizeInUse int64
	// Revision is the keyspace's current revision, as the endpoint
	// answered (its response header).
	Revision         int64
	Leader           uint64
	RaftTerm         uint64
	RaftIndex        uint64
	RaftAppliedIndex uint64
	IsLearner        bool
	Errors           []string
}

// Alarm is one raised alarm.
type Alarm struct {
	MemberID uint64
	Type     string // "NOSPACE" | "CORRUPT"
}

// Host is what SSH saw on one member's host.
type Host struct {
	Member    string
	Address   string
	Reachable bool
	Error     string // why the host could not be observed

	// ConfigExists is false when the config file is absent.
	ConfigExists bool
	ConfigHash   string // sha256 hex of the file's bytes
	// ConfigContent is the file's bytes, so that the plan can show a
	// write as a diff against it. etcd's config holds paths, never keys.
	ConfigContent []byte
	// Config holds the parsed managed keys; ConfigUnknown lists top-level
	// keys etcdform does not manage.
	Config        *etcdconf.File
	ConfigUnknown []string
	ConfigError   string // the file exists but does not parse

	ServiceState string // "running" | "stopped" | "unknown"
	// ServiceMissing says why the service manager knows no service of
	// service.name on the host ("" when it does, or was not asked).
	ServiceMissing string
	BinaryVersion  string // "3.6.16", or "" when absent
	DataDirBytes   int64
	DataDirEmpty   bool
	// Data is the identity the data dir holds, from its write-ahead log
	// (with etcd running or not); nil when it was not read.
	Data *DataDir
	// DataDirStray says the data dir holds entries besides member/ and
	// moved-aside dirs. It is read only when the data dir is not empty
	// and holds no WAL (a rebuilt host), where moving member/ aside would
	// not leave the empty dir a new member needs.
	DataDirStray bool
	// DataDirExists and DataDirMode (permission bits) describe the data
	// dir itself; a bootstrap creates it mode 0700.
	DataDirExists bool
	DataDirMode   uint32
	// PeerPortInUse says something listens on the member's peer port on
	// the host (ss(8)); PeerPortError why that could not be checked. Both
	// are read only when the service does not run (ServiceState), for
	// the bootstrap's check that no cluster is there: a running service
	// is that already.
	PeerPortInUse bool
	PeerPortError string
	// ServiceDef is the service definition etcdform installs for a new
	// member (internal/servicedef.Path: the systemd unit or the runit run
	// script), nil when absent; only hosts of a systemd or runit service
	// are asked.
	ServiceDef []byte

	// ProcessStart is when the process the service manager runs started,
	// and ConfigModTime when the config file was last modified, both on
	// the host's clock; zero when unknown (no process, a "command"
	// manager, or the host could not tell). A file modified after the
	// process started has not been loaded: see RestartPending.
	ProcessStart  time.Time
	ConfigModTime time.Time

	Certs []CertInfo

	// BackupJob holds the installed files of the cluster's backup job by
	// path, under either scheduler (backupjob.Paths); a file that is not
	// there is not in the map, and the map is nil when none is. BackupTimer
	// is what systemd says of the job's timer: `systemctl is-enabled` and
	// `is-active`, space-separated ("enabled active"); "" when the host has
	// no systemctl. ToolSHA256 is the sha256 of the etcdform binary the job
	// runs (backupjob.DefaultBinary), "" when absent. See plan/backup.go.
	BackupJob   map[string][]byte
	BackupTimer string
	// Init is "systemd" when systemd runs the host (/run/systemd/system
	// exists), "other" when it does not, "" when not observed (only hosts
	// with systemd backup units, or of a cluster whose manager is systemd,
	// are asked).
	Init        string
	ToolSHA256  string
	ToolVersion string // the version that binary reports, "" when absent
	// BackupEnvSHA256 is the sha256 of backupjob.DefaultEnvFile on the
	// host (hosts of backup.on only), "" when absent.
	BackupEnvSHA256 string

	// Sources describes the local *_source files the configuration names
	// for this member (read on the machine running etcdform, not over
	// SSH), with the same roles as Certs; Path is the local path.
	Sources []CertInfo
}

// DataDir is the identity an etcd data dir holds, read from the metadata
// record at the head of its oldest WAL file (internal/etcdwal).
type DataDir struct {
	// HasWAL is false when DATA_DIR/member/wal holds no WAL file: etcd
	// started on this data dir would start as a new member (an empty or
	// rebuilt host).
	HasWAL bool
	// MemberID and ClusterID are the WAL's; 0 when HasWAL is false or
	// Error is set.
	MemberID  uint64
	ClusterID uint64
	// Error says why a WAL file that is there could not be read or
	// decoded.
	Error string
}

// Label describes d in one phrase for fingerprints and messages:
// "no WAL", "member 8e9e05c52164694d of cluster cdf818194e3a8c32",
// "unreadable WAL: ..."; "" for nil.
func (d *DataDir) Label() string {
	switch {
	case d == nil:
		return ""
	case d.Error != "":
		return "unreadable WAL: " + d.Error
	case !d.HasWAL:
		return "no WAL"
	}
	return fmt.Sprintf("member %x of cluster %x", d.MemberID, d.ClusterID)
}

// ClockSlack is how much later than the process's start the config file
// must have been modified to count as not loaded. It absorbs the
// granularity of the process start time (clock ticks, read against
// /proc/uptime's hundredths): a file written and a process started right
// after it (as add-learner and start-member do) must not look stale.
const ClockSlack = time.Second

// RestartPending reports whether the running process started before its
// config file was last modified, so that it runs with older settings than
// the file holds: an apply stopped between write-config and restart, a
// restart that failed, or a hand edit. Both times must be known.
func (h *Host) RestartPending() bool {
	if h == nil || !h.Reachable || h.ProcessStart.IsZero() || h.ConfigModTime.IsZero() {
		return false
	}
	return h.ConfigModTime.After(h.ProcessStart.Add(ClockSlack))
}

// CertInfo describes a certificate file on a host, never its key.
type CertInfo struct {
	Role      string // "client-cert", "peer-cert", "client-ca", "peer-ca"
	Path      string
	SHA256    string
	Serial    string
	Subject   string
	DNSNames  []string
	IPs       []string
	NotBefore time.Time
	NotAfter  time.Time
	Issuer    string

	// Missing is true when the file does not exist; Error says why it
	// could not be read or parsed otherwise.
	Missing bool
	Error   string
	// DER holds every certificate of the file in DER (a CA file may be a
	// bundle): public data, so the planner can check chains and SANs
	// without a network.
	DER [][]byte
	// PublicKeySHA256 is the sha256 (hex) of the certificate's public key
	// (SubjectPublicKeyInfo).
	PublicKeySHA256 string

	// Key facts, for the "-cert" roles. The observer reads the key file
	// transiently to derive them; its bytes never enter the model.
	// KeySHA256 is the hash of the key file (to compare with a source),
	// KeyPublicSHA256 the hash of the key's public half (equal to
	// PublicKeySHA256 when key and certificate match), and KeyMatches the
	// observer's verdict for this pair.
	KeyPath         string
	KeyMissing      bool
	KeyError        string
	KeySHA256       string
	KeyPublicSHA256 string
	KeyMatches      bool
}

// CertInfo roles.
const (
	RoleClientCert = "client-cert"
	RoleClientCA   = "client-ca"
	RolePeerCert   = "peer-cert"
	RolePeerCA     = "peer-ca"
)

// Cert returns the certificate facts of the given role, or nil.
func (h *Host) Cert(role string) *CertInfo {
	return findCert(h.Certs, role)
}

// Source returns the local source facts of the given role, or nil.
func (h *Host) Source(role string) *CertInfo {
	return findCert(h.Sources, role)
}

func findCert(list []CertInfo, role string) *CertInfo {
	for i := range list {
		if list[i].Role == role {
			return &list[i]
		}
	}
	return nil
}

// Member returns the live member with the given name, or nil.
func (c *Cluster) Member(name string) *Member {
	for i := range c.Members {
		if c.Members[i].Name == name {
			return &c.Members[i]
		}
	}
	return nil
}

// Down reports whether the member's endpoint did not answer the status
// request.
func (m *Member) Down() bool { return m.Status == nil }

// Voters returns the number of voting (non-learner) members.
func (c *Cluster) Voters() int {
	n := 0
	for _, m := range c.Members {
		if !m.IsLearner {
			n++
		}
	}
	return n
}
