package schema

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is one configuration: every cluster declared by the .hcl files of
// one directory, after variables, locals and functions have been evaluated.
type Config struct {
	// Dir is the directory the configuration was loaded from. Relative
	// file references (keys, known_hosts, TLS sources) are resolved
	// against it and stored as absolute paths in the model.
	Dir string
	// Files maps each loaded file name to its source, for rendering
	// diagnostics with snippets.
	Files map[string][]byte
	// Hash is the sha256 (hex) of the loaded files' names and contents in
	// name order; the plan records it as "the desired config's hash".
	Hash     string
	Clusters []*Cluster
	// Sensitive holds the values of sensitive variables, so views can
	// redact them from anything they print. Never serialized.
	Sensitive []string
}

// Cluster is one etcd cluster as the operator wants it. Every field holds an
// exact, normalised value with etcd's default already applied, so the
// planner never has to know a default.
type Cluster struct {
	Name string
	// EtcdVersion is the wanted server version without a leading "v"
	// ("3.6.16"), or "" when the tool should not manage the version.
	EtcdVersion string
	// FaultTolerance is the number of member failures the cluster must
	// survive at every apply step. -1 means not set: the planner then
	// uses a budget of 0 and warns when a membership change passes through
	// a point that tolerates no failure (plan.Make).
	FaultTolerance int
	// AllowEven permits a plan that leaves an even number of voters.
	AllowEven bool

	Connection Connection // cluster-wide defaults, already merged into each Member
	Service    Service
	Storage    Storage
	Compaction Compaction
	Raft       Raft
	TLS        *TLS    // nil: plain http client and peer URLs
	Backup     *Backup // nil: no backup schedule is managed
	// Maintenance is the routine upkeep the planner proposes; nil: none
	// (an alarm's recovery is planned without it).
	Maintenance *Maintenance
	// Install says where etcd's binaries come from (the `install` block);
	// nil: etcdform installs no binary.
	Install *Install
	// Auth is etcd's authentication and role-based access control (the
	// `auth` block); nil: no auth block, etcdform leaves auth alone.
	Auth *Auth
	// Metrics is the `metrics` block; nil: etcd's defaults (no metrics
	// listener, basic metrics).
	Metrics *Metrics
	// Logging holds etcd's log level (default "info") and outputs.
	Logging Logging
	// CorruptionCheck is the `corruption_check` block: etcd's corruption
	// checks. nil: no block, etcdform leaves the checks as each member's
	// file has them (and only moves their keys to another etcd version's
	// in an upgrade or a downgrade).
	CorruptionCheck *CorruptionCheck
	Members         []*Member
	// AcceptedRisks are the cluster's accept_risk blocks, in source order:
	// settings the operator guides call dangerous that the cluster keeps on
	// purpose, each with its reason.
	AcceptedRisks []AcceptedRisk
	// Risks are the dangerous settings the cluster carries (schema/risks.go),
	// in RiskNames order, each with its accept_risk block when accepted. The
	// plan lists them all, so a reviewer sees what was accepted and why.
	Risks []RiskFinding

	// DeclRange is the range of the `cluster "name"` header.
	DeclRange hcl.Range
	// Uses is every local file the cluster depends on, as absolute clean
	// paths: the file declaring it, those declaring the variables and
	// locals it references, and the keys, known_hosts files and TLS and
	// credentials sources its model names. A change to any of them is a
	// change to this cluster (`etcdform clusters --changed`).
	Uses []string
}

// Connection says how to reach a member's host over SSH.
type Connection struct {
	User           string // default "root"
	Port           int    // default 22
	PrivateKeyFile string // absolute path; "" when Agent is set
	Agent          bool   // use SSH_AUTH_SOCK
	KnownHostsFile string // absolute path; required (host keys are always verified)
	Sudo           bool   // prefix privileged commands with sudo -n
	Timeout        time.Duration
	Bastion        *Bastion
}

// Bastion is an optional SSH jump host.
type Bastion struct {
	Host           string
	Port           int
	User           string
	PrivateKeyFile string // "" means: the same as the member connection's
}

// Service describes how etcd is installed and supervised on every host.
type Service struct {
	Manager    string // "systemd" | "runit" | "command"
	Name       string // default "etcd"
	Binary     string // default "/usr/local/bin/etcd"
	ConfigFile string // default "/etc/etcd/etcd.conf.yml"
	DataDir    string // default "/var/lib/etcd"
	// User is the system user etcd runs as when etcdform installs the
	// service (a bootstrap): created when missing, owner of the data dir.
	// "root" runs etcd as root. Default "etcd".
	User string
	// Commands used when Manager == "command". Each is run through sh -c.
	StartCommand   string
	StopCommand    string
	StatusCommand  string // exit 0 when running
	RestartCommand string
	// StopTimeout bounds a graceful stop. etcd needs up to
	// 5s + 2*election timeout to hand leadership over while watches are
	// open; the default is derived from Raft.ElectionTimeout.
	StopTimeout time.Duration
}

// Storage holds etcd's backend settings, in bytes and counts.
type Storage struct {
	QuotaBackendBytes int64  // etcd default 2 GiB
	SnapshotCount     uint64 // etcd default 10000
	MaxRequestBytes   int64  // etcd default 1.5 MiB (1572864)
}

// Compaction is etcd's auto-compaction policy.
type Compaction struct {
	Mode string // "periodic" (default) | "revision"
	// Retention is the value etcd receives in auto-compaction-retention:
	// for "periodic" a Go duration string such as "1h0m0s" (default "0s",
	// which disables auto compaction as etcd does), for "revision" a
	// decimal count such as "1000".
	Retention string
}

// Maintenance is the `maintenance` block: routine upkeep.
type Maintenance struct {
	Defrag *DefragPolicy // nil: no routine defragmentation
}

// DefragPolicy says which members a routine plan defragments: those whose
// (dbSize - dbSizeInUse) / dbSize is above FragmentationAbove percent and
// where at least MinReclaimable bytes would be reclaimed.
type DefragPolicy struct {
	FragmentationAbove float64 // percent, 0 to 100; default 30
	MinReclaimable     int64   // bytes; default 64 MiB
}

// Defaults of the defrag block's attributes.
const (
	DefaultFragmentationAbove = 30
	DefaultMinReclaimable     = int64(64 << 20)
)

// Raft holds the raft timings.
type Raft struct {
	HeartbeatInterval time.Duration // etcd default 100ms
	ElectionTimeout   time.Duration // etcd default 1s
}

// TLS is the cluster's transport security. File paths in TLSFiles are
// paths on the member's host; Source, when set, is a local file that the
// tool uploads there.
//
// Cluster.TLS holds the cluster-wide settings: which sides are encrypted,
// MinRemaining, and ClientCertAuth defaults; its file paths are left empty,
// because they are templates evaluated per member (they may use
// member.name and member.host). Member.TLS is authoritative for paths.
type TLS struct {
	Client       *TLSEndpoint // client URLs; nil: plain http
	Peer         *TLSEndpoint // peer URLs; nil: plain http
	MinRemaining time.Duration
	// Tool is etcdform's own etcd client credentials (cluster-wide only;
	// nil when not configured: the environment variables ETCDFORM_ETCD_CA,
	// ETCDFORM_ETCD_CERT and ETCDFORM_ETCD_KEY may supply them).
	Tool *ToolTLS
}

// ToolTLS holds the local files etcdform's etcd client uses to reach
// https client URLs: separate from any member's credentials. Paths are
// absolute local paths; the key is never read into the model.
type ToolTLS struct {
	CAFile   string // PEM bundle the members' server certificates must chain to
	CertFile string // client certificate; "" for no client certificate
	KeyFile  string
}

// TLSEndpoint is one side (client or peer) of a member's TLS settings, as
// resolved for one member; see Member.TLS.
type TLSEndpoint struct {
	CA             TLSFile
	Cert           TLSFile
	Key            TLSFile
	ClientCertAuth bool
}

// TLSFile is one certificate or key file.
type TLSFile struct {
	Path   string // on the host
	Source string // absolute local path, or "" when something else manages the file
}

// Backup is a scheduled snapshot job.
type Backup struct {
	Schedule    string   // five-field cron expression
	On          []string // member names whose hosts run the job
	Destination string   // file:///dir or s3://bucket/prefix
	KeepLast    int
	MaxAge      time.Duration
	Recipient   string // age public key; "" means unencrypted (refused unless allowed)
	// AllowUnencrypted is the operator's explicit consent to store
	// snapshots without encryption; without it a backup needs Recipient.
	AllowUnencrypted bool
	S3               *S3Options
}

// S3Options configures an s3:// destination.
type S3Options struct {
	Endpoint  string
	Region    string
	PathStyle bool
	// CredentialsSource is an absolute local path to an environment file
	// (AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=...) that apply uploads
	// to the hosts of `on` (mode 0600); "" when the operator provisions it.
	// Only its hash is ever in a plan.
	CredentialsSource string
}

// Auth is the `auth` block: whether etcd checks credentials, the roles and
// users etcdform keeps, and how etcdform itself authenticates. No password
// is ever in the model: a user names where its password comes from.
type Auth struct {
	// Enabled is whether authentication is on (`auth enable`); required.
	Enabled bool
	// AllowDisable permits a plan that turns authentication off on a
	// cluster where it is on; without it such a plan is refused.
	AllowDisable bool
	// Tool is how etcdform authenticates; nil only when Enabled is false.
	Tool *AuthTool
	// Roles are the declared roles, in declaration order. The built-in
	// role "root" is never declared.
	Roles []*Role
	// Users are the declared users, in declaration order.
	Users []*User

	DeclRange hcl.Range
}

// RootName is the name of etcd's superuser and of its built-in role: auth
// enable needs a user "root" holding the role "root".
const RootName = "root"

// AuthTool says how etcdform authenticates: as a declared user with a
// password (User), or by the common name of the client certificate it
// presents (ClientCert, which needs client TLS with client_cert_auth).
type AuthTool struct {
	User       string
	ClientCert bool

	DeclRange hcl.Range
}

// Role is one declared role and the key ranges it grants.
type Role struct {
	Name        string
	Permissions []Permission

	DeclRange hcl.Range
}

// Permission grants one kind of access to one key range.
type Permission struct {
	// Type is "read", "write" or "readwrite".
	Type string
	// Key is the range's first key. RangeEnd is its end, exclusive: ""
	// for the single key Key, "\x00" for every key from Key on (a
	// prefix "" is Key "\x00", RangeEnd "\x00": every key).
	Key, RangeEnd string

	DeclRange hcl.Range
}

// User is one declared user: its roles and its password's source.
type User struct {
	Name string
	// Roles are the roles granted to the user, sorted, without duplicates.
	Roles    []string
	Password PasswordSource

	DeclRange hcl.Range
}

// PasswordSource says where a user's password comes from when etcdform
// needs it (to set it, to check it, to authenticate as the tool user): never
// the password itself.
type PasswordSource struct {
	// Env names an environment variable of the process running etcdform.
	Env string
	// File is an absolute local path on the machine running etcdform; a
	// single trailing newline of its content is not part of the password.
	File string
	// None: the user has no password (etcd's --no-password); it can only
	// authenticate by the common name of a client certificate.
	None bool
}

// String describes the source for plans and messages: "env ETCD_ROOT_PW",
// "file /run/secrets/pw" or "none"; never the password.
func (p PasswordSource) String() string {
	switch {
	case p.Env != "":
		return "env " + p.Env
	case p.File != "":
		return "file " + p.File
	default:
		return "none"
	}
}

// User returns the declared user of that name, or nil.
func (a *Auth) User(name string) *User {
	for _, u := range a.Users {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// Role returns the declared role of that name, or nil.
func (a *Auth) Role(name string) *Role {
	for _, r := range a.Roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Member is one wanted member, with the cluster's connection defaults and
// TLS templates already resolved for it.
type Member struct {
	Name       string
	Host       string // SSH address (name or IP)
	PeerURL    string
	ClientURL  string
	Connection Connection
	TLS        *TLS // the cluster's TLS with this member's file paths; nil when plain
	// MetricsURLs are the member's metrics listeners, from the cluster's
	// metrics.listen_urls evaluated for it; nil: none.
	MetricsURLs []string

	DeclRange hcl.Range
}

// Member returns the member with the given name, or nil.
func (c *Cluster) Member(name string) *Member {
	for _, m := range c.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}
