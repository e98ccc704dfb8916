package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/etcdform/etcdform/plan/model"
	"github.com/etcdform/etcdform/state"
)

// Etcd is what apply needs of one cluster's etcd API. The production
// implementation wraps a providers/etcd client and comes from a Connector.
type Etcd interface {
	// Lock takes the cluster's apply lock, waiting until ctx ends. When
	// ctx ended while another apply held the lock, the error wraps
	// ErrLockHeld; when the cluster grants no lease (NOSPACE), it wraps
	// ErrLockNoLease; any other error says why the cluster refused it.
	Lock(ctx context.Context, cluster string) (Lock, error)
	// Leader returns the current leader's member ID, fresh.
	Leader(ctx context.Context) (uint64, error)
	// Transferee returns the voter that leadership should move to before
	// member id goes down, or 0 when id does not lead now.
	Transferee(ctx context.Context, id uint64) (uint64, error)
	// MoveLeader transfers leadership to member to, returning once to
	// reports itself leader.
	MoveLeader(ctx context.Context, to uint64) error
	// AddLearner adds peerURL as a learner and returns its ID and the
	// live member list (name -> peer URL; the new member has no name yet).
	AddLearner(ctx context.Context, peerURL string) (uint64, []LiveMember, error)
	// Members returns the live member list, read fresh (it works under
	// NOSPACE).
	Members(ctx context.Context) ([]LiveMember, error)
	Promote(ctx context.Context, id uint64) error
	Remove(ctx context.Context, id uint64) error
	MemberID(ctx context.Context, name, peerURL string) (uint64, error)
	// ClientURLs returns member id's client URLs from the live member
	// list.
	ClientURLs(ctx context.Context, id uint64) ([]string, error)
	// WaitHealthy waits for the health gate to pass (fresh checks each
	// time) or ctx to end, returning the last failing report. A non-zero
	// except is a member the gate does not require (the subject of the
	// step about to run).
	WaitHealthy(ctx context.Context, except uint64) error
	// TolerateAlarms sets the alarm types ("NOSPACE") that later health
	// gates report but do not fail on: those the rest of the plan clears.
	// A CORRUPT alarm always fails the gate.
	TolerateAlarms(types []string)
	// WaitLearnerCaughtUp waits until learner id has applied what the
	// leader committed. For a newMember (added by this apply, with an
	// empty data dir) it fails with an error wrapping ErrLearnerSilent
	// when the learner is published but answers no client (etcd lost the
	// wait for its first publish).
	WaitLearnerCaughtUp(ctx context.Context, id uint64, newMember bool) error
	// MemberVersion is the server version member id reports now.
	MemberVersion(ctx context.Context, id uint64) (string, error)
	// Versions reads, fresh, the cluster version and every live member's
	// server and storage versions; a member that does not answer has Err
	// set. It fails when the member list or the cluster version cannot be
	// read.
	Versions(ctx context.Context) (ClusterVersions, error)
	// Downgrade sends etcd's downgrade request op for target ("3.5":
	// etcd's downgrades name a minor), as `etcdctl downgrade` does. When
	// etcd refuses it (it did not take effect) the error wraps
	// ErrDowngradeRefused with etcd's reason; any other error leaves it
	// unknown whether it took effect.
	Downgrade(ctx context.Context, op DowngradeOp, target string) error
	// Snapshot streams a snapshot to w and verifies its trailing hash.
	Snapshot(ctx context.Context, w io.Writer) (size int64, sha string, err error)
	// CheckConsistent compares HashKV at one revision on every member.
	CheckConsistent(ctx context.Context) error
	// MemberHashes asks every started voting member for HashKV at one
	// revision, the cluster's current one read linearizably, one member
	// at a time. A member that does not answer is listed with its Err;
	// err is set when the member list or the revision cannot be read.
	MemberHashes(ctx context.Context) (rev int64, hashes []MemberHash, err error)
	// PutAudit, AuditRecords and DeleteAudit keep the cluster's audit
	// chain (AuditStore).
	PutAudit(ctx context.Context, key string, value []byte) error
	AuditRecords(ctx context.Context, cluster string) ([]AuditKV, error)
	DeleteAudit(ctx context.Context, keys ...string) error
	// Compact compacts the keyspace history up to rev (physically: the
	// call returns once the members applied it); a revision already
	// compacted is no error.
	Compact(ctx context.Context, rev int64) error
	// Defragment defragments member id's backend, through its own client
	// URL.
	Defragment(ctx context.Context, id uint64) error
	// AlarmDisarm disarms the alarm of type alarm ("NOSPACE") of member id,
	// and the same type of alarm of any other member that raised one since
	// the plan was made (the recovery before it covered every member).
	AlarmDisarm(ctx context.Context, id uint64, alarm string) error
	// DBSizes returns the DB size and the quota it runs with of every
	// live member that answers, as each reports them (Quota 0 when etcd
	// reports none: before 3.6), and an error naming those that did not.
	DBSizes(ctx context.Context) ([]MemberDB, error)
	AuthAdmin
	Close() error
}

// MemberHash is one member's HashKV at a revision (Etcd.MemberHashes).
type MemberHash struct {
	ID   uint64
	Name string
	// Hash covers the keyspace from CompactRevision to the revision
	// asked: two members' hashes compare only at the same CompactRevision.
	Hash            uint32
	CompactRevision int64
	Err             error // the member did not answer; Hash is unset
}

// ClusterVersions is a cluster's versions as its members report them.
type ClusterVersions struct {
	// Cluster is the cluster version ("3.6.0"), the "etcdcluster" field of
	// the leader's /version: it lags the binaries in an upgrade and drops
	// to the target as soon as a downgrade is enabled.
	Cluster string
	Members []MemberVersions
}

// MemberVersions is one live member's versions.
type MemberVersions struct {
	ID        uint64
	Name      string
	IsLearner bool
	// Server is the version its binary reports ("3.6.16"), Storage its
	// backend's storage version ("3.5.0"; "" from etcd 3.5, which reports
	// none).
	Server, Storage string
	Err             string // why it did not answer; the versions are then ""
}

// ErrDowngradeRefused is etcd's refusal of a downgrade request: it did not
// take effect.
var ErrDowngradeRefused = errors.New("etcd refused the downgrade request")

// DowngradeOp is one of etcd's downgrade requests.
type DowngradeOp int

const (
	DowngradeValidate DowngradeOp = iota + 1 // `etcdctl downgrade validate`: changes nothing
	DowngradeEnable                          // `etcdctl downgrade enable`: the cluster version drops to the target
	DowngradeCancel                          // `etcdctl downgrade cancel`
)

// String is the request as etcdctl names it: "downgrade cancel".
func (o DowngradeOp) String() string {
	switch o {
	case DowngradeValidate:
		return "downgrade validate"
	case DowngradeEnable:
		return "downgrade enable"
	case DowngradeCancel:
		return "downgrade cancel"
	}
	return fmt.Sprintf("DowngradeOp(%d)", int(o))
}

// MemberDB is one member's DB size and quota, as it reports them.
type MemberDB struct {
	Name  string
	ID    uint64
	Size  int64 // dbSize: the file's size
	Quota int64 // dbSizeQuota; 0 when not reported
}

// Lock is a held apply lock.
type Lock interface {
	// Check fails when the lock's lease is gone: the apply must stop.
	Check(ctx context.Context) error
	Unlock(ctx context.Context) error
}

// LiveMember is one entry of the live member list.
type LiveMember struct {
	ID        uint64
	Name      string
	PeerURL   string
	IsLearner bool
}

// Host is what apply needs of one member's host: typed operations, each
// implemented once in providers/ssh (which owns the shell and its
// quoting). Errors name the host.
type Host interface {
	// Preflight checks that the host can take a new member (binary and
	// version, data dir, peer port) and changes nothing.
	Preflight(ctx context.Context, p Preflight) error
	// MoveAside renames from to aside (one file system, never a copy or
	// a delete); a missing from is nothing to do, an existing aside an
	// error.
	MoveAside(ctx context.Context, from, aside string) error
	// InstallFiles writes whole files, creating their directories:
	// staged, checked and swapped in atomically (several at once), the
	// replaced ones kept as PATH.bak unless File.DropPrevious.
	InstallFiles(ctx context.Context, files []File) error
	// StageFiles puts files next to their targets (PATH.etcdform-new)
	// and checks them there; the targets are untouched until SwapStaged.
	// It returns each staged copy with the stamp it had when checked.
	StageFiles(ctx context.Context, files []File) ([]Staged, error)
	// SwapStaged checks staged files against their sha256 (a copy that
	// still has the stamp StageFiles returned is not hashed again) and
	// swaps them in together, keeping each replaced file as PATH.bak.
	SwapStaged(ctx context.Context, files []Staged) error
	// InstallJob installs a scheduled job's files in the order Job
	// describes.
	InstallJob(ctx context.Context, j Job) error
	// RunJob runs an installed job once; a failed run's error carries
	// its output and the job's status and log tail.
	RunJob(ctx context.Context, r JobRun) error
	// InstallService installs etcd's service for a new member, stopped:
	// the user (created when missing), the data dir and the definition.
	InstallService(ctx context.Context, s ServiceInstall) error
	// CheckV2Store runs etcdutl check v2store on a copy of the member's
	// WAL and v2 snapshots; an error says the v2 store holds custom
	// content (or the check could not run).
	CheckV2Store(ctx context.Context, etcdutl, dataDir string) error
	// Launch starts the service without waiting for it to report ready
	// (a new cluster's member is ready only once a quorum runs).
	Launch(ctx context.Context) error
	// Restore restores an etcd backend file into a fresh data dir with
	// etcdutl snapshot restore (Restore says how), then moves its member/
	// into Restore.DataDir, which must have none. It deletes nothing.
	Restore(ctx context.Context, r Restore) error
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Restart(ctx context.Context) error
	// Disable keeps the service manager from starting the service by
	// itself (at boot); Enable undoes it. Neither starts or stops it.
	Disable(ctx context.Context) error
	Enable(ctx context.Context) error
	// Status is the service manager's word on the service: "running",
	// "stopped" or "unknown".
	Status(ctx context.Context) (string, error)
	// ClientConnections counts the established TCP connections to the
	// given local ports on the host: the clients of its etcd.
	ClientConnections(ctx context.Context, ports []int) (int, error)
	// Lock takes the host's apply lock for owner without waiting (a lock
	// file held for as long as the lock, released when the connection
	// drops); a lock another apply holds is an error wrapping
	// ErrLockHeld. It stands in for the cluster's lock when the cluster
	// grants no lease.
	Lock(ctx context.Context, owner string) (Lock, error)
	Close() error
}

// Preflight is what a host must offer before a new member is added on it.
type Preflight struct {
	Binary  string // the etcd binary
	Version string // the version it must report; "" accepts any
	DataDir string // must be missing or empty...
	// ... but for entries whose names start with one of Ignore
	// (AsidePrefix: what an earlier removal moved aside).
	Ignore   []string
	PeerPort int // must have no listener
}

// ServiceInstall is etcd's service on a new member's host: Definition (a
// systemd unit or a runit run script, whole) at Path, for Manager's service
// Name, running etcd as User ("root": no dedicated user, none created),
// with DataDir created mode 0700 and owned by User.
type ServiceInstall struct {
	Manager    string
	Name       string
	Path       string
	Definition []byte
	User       string
	DataDir    string
}

// Restore is a restore of an etcd backend file (bbolt) on a host:
// etcdutl snapshot restore FROM as member Name at PeerURL of a new cluster
// (InitialCluster, "" for Name alone; Token), the revision bumped by
// BumpRevision and the history marked compacted, so that clients' watches
// and caches see the jump. For the recovery from a lost quorum
// (recover-survivor) FROM is a data dir's backend, which carries no
// snapshot hash (--skip-hash-check). For a restore from a backup
// (restore-member) Snapshot is streamed to the host into FROM first
// (which must not exist), checked there against SnapshotSHA256, restored
// with its trailing hash checked by etcdutl, and removed after.
type Restore struct {
	Etcdutl        string // the etcdutl binary
	From           string // the backend file: OLD_MEMBER/snap/db, or where Snapshot goes
	DataDir        string // where member/ goes; it must have none
	Name           string
	PeerURL        string
	Token          string
	InitialCluster string
	BumpRevision   int64
	Snapshot       io.Reader
	SnapshotSHA256 string
}

// Staged is a file StageFiles put next to Path, with the sha256 it must
// still have when SwapStaged swaps it in.
type Staged struct {
	Path   string
	SHA256 string
	// Stamp is the staged copy's device, inode, size and times when
	// StageFiles checked its sha256 ("" for none): SwapStaged hashes the
	// copy again only when they changed since.
	Stamp string
}

// File is one whole file to install on a host.
type File struct {
	Path string
	Data []byte
	Mode os.FileMode
	// DropPrevious keeps no copy of the replaced file (a secret).
	DropPrevious bool
}

// Job is a scheduled job's installation: write Files (creating their
// directories and Dirs), reload systemd when a unit was written, enable
// and restart Timer; then stop and disable StopTimers, delete Remove, and
// reload systemd when a unit was removed (both only where systemd runs).
type Job struct {
	Files      []File
	Dirs       []string
	Timer      string
	StopTimers []string
	Remove     []string
}

// JobRun is one run of an installed job: Command (from the job's own
// files, backupjob.RunCommand), and the systemd Unit ("" for cron) and
// Log file that explain a failure.
type JobRun struct {
	Command string
	Unit    string
	Log     string
}

// Connector opens the connections apply uses, from what the plan says
// (no configuration).
type Connector interface {
	// Etcd connects to the cluster's etcd.
	Etcd(ctx context.Context, c model.ClusterTarget) (Etcd, error)
	// Host connects to a member's host and its service manager.
	Host(ctx context.Context, t model.Target) (Host, error)
	// Observe re-observes the named cluster for the stale-plan check.
	Observe(ctx context.Context, cluster string) (*state.Observed, error)
	// Warm starts connecting, in the background, to the named cluster's
	// hosts and to the targets' (those its steps name), so that the locks,
	// the observation under the lock and the steps find them connected. It
	// does not wait and reports nothing: Host and Observe report a host
	// that cannot be reached. release closes the cluster's connections
	// when its apply ends.
	Warm(ctx context.Context, cluster string, targets []model.Target) (release func())
}
