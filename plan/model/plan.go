package model

import (
	"time"

	"github.com/etcdform/etcdform/state"
)

// Change is one attribute difference that motivates a step. What Before and
// After hold depends on the step's action:
//
//	Action        Attr                     Before                    After
//	Snapshot      -                        -                         -
//	StartMember   "service"                observed service state    "running"
//	AddLearner    "peer-url"               ""                        peer URL
//	Promote       "learner"                "true"                    "false"
//	RemoveMember  "peer-url"               peer URL                  ""
//	WriteConfig   etcd key ("quota-backend-bytes",
//	              "client-transport-security.cert-file")
//	                                       observed value            desired value
//	WriteConfig   "config-file"            "(absent)"/"(unparsable)" the file's path
//	WriteConfig   unmanaged etcd key       observed raw value        "" (the key is dropped)
//	Restart       same as WriteConfig: the values the restart brings into effect
//	Restart       "running-config"         "process started <time>"  "config file of <time>" (the file is newer than the process)
//	UploadFile    host path (one per file) "sha256:…"/"(absent)"      "sha256:…" of the source (certs add serial and expiry)
//	Compact       "revision"               observed current revision the revision compacted to
//	Defrag        "db-size"                observed dbSize           expected size and reclaim ("~96 MiB (reclaims ~416 MiB)")
//	DisarmAlarm   "alarm"                  the alarm type            "(disarmed)"
//	InstallBackupJob job attribute ("schedule", "keep_last", "binary_sha256"...; "job" when absent or removed)
//	                                       installed value/"(absent)" wanted value/"(absent)"
//
// Values are rendered as text: numbers in decimal, booleans as "true"/"false".
type Change struct {
	Attr   string // etcd key or model attribute, e.g. "quota-backend-bytes"
	Before string
	After  string
}

// Step is one unit of apply work on one member of one cluster. It is
// self-contained: apply needs nothing but the step (its Target says where
// and with what), its cluster's ClusterTarget and the live cluster to
// carry it out, never the configuration.
type Step struct {
	Action  Action
	Cluster string
	// Member is the member name. It is "" for a Snapshot (apply picks a
	// healthy member) and for a live member that was added but never
	// started and matches no desired member (MemberID identifies it).
	Member string
	// MemberID is the live member ID for steps on existing members (0 for
	// an AddLearner and a Snapshot; for the Promote that follows an
	// AddLearner it is 0 too: apply uses the ID the add returned).
	MemberID uint64
	// PeerURL is the member's peer URL (AddLearner: the URL to add;
	// RemoveMember: the URL being removed).
	PeerURL string
	Reason  string // for display only
	Changes []Change
	// Config is the full config file to write (WriteConfig) or the
	// template for a new member (AddLearner; initial-cluster is filled in
	// at apply time from the live member list, initial-cluster-state is
	// "existing").
	Config []byte
	// ConfigObserved is the config file the member's host held when
	// planned (WriteConfig; nil when absent), for display only: the plan
	// shows Config as a diff against it. Apply never writes it.
	ConfigObserved []byte
	// Leader is true when the member led the cluster when planned. For a
	// RemoveMember or Restart apply moves leadership away first (it does
	// so for whichever member leads when the step runs; this flag is for
	// display and ordering).
	Leader bool
	// HostDown is true when the member's host could not be reached over
	// SSH. Only a RemoveMember of a dead member carries it: apply removes
	// the member from the member list and leaves the host alone.
	HostDown bool
	// Voters is the number of voting members during the step (for a
	// membership change: at its narrowest point), and Tolerated the
	// failures the cluster survives while it runs:
	//
	//	Tolerated = available voters - (Voters/2 + 1)
	//
	// where available excludes members already down and the step's own
	// member when the step takes it down.
	Voters    int
	Tolerated int
	// Uploads are what an UploadFile step writes: where from and where
	// to, never the bytes (apply reads the sources then, and refuses one
	// whose hash changed since the plan).
	Uploads []Upload
	// Job is what an InstallBackupJob step does to the job's files.
	Job *JobInstall
	// Revision is the revision a Compact step compacts to (chosen at plan
	// time, never past what compaction.retention keeps; see
	// plan/maintenance.go).
	Revision int64
	// Alarm is the alarm type a DisarmAlarm step disarms on MemberID:
	// "NOSPACE".
	Alarm string
	// Quota guards a DisarmAlarm step: the quota_backend_bytes the
	// members run with when it runs (the raised one when the plan raises
	// it before the disarm). Apply disarms only when every member's DB
	// size is at most DisarmLimit of the quota etcd reports for it (this
	// one when etcd reports none), and otherwise stops before the disarm:
	// the next writes after it would raise NOSPACE again.
	Quota int64
	// Version is the etcd version a cluster-wide version step works
	// toward ("3.5.35"): the target of a DowngradeValidate and a
	// DowngradeEnable (etcd is asked for its minor), the version every
	// member must report after a WaitClusterVersion (and whose minor the
	// cluster version must reach). "" for every other action.
	Version string
	// Auth is what an auth step (add-role ... disable-auth) changes; nil
	// for every other action.
	Auth *AuthChange
	// Backup is the snapshot a FetchBackup step fetches and checks and a
	// RestoreMember step restores; nil for every other action.
	Backup *BackupSnapshot
	// Target is the member's host and how etcd is installed and run there
	// (AddTargets). It is nil for a Snapshot, and for a removal whose host
	// is down or unknown (apply then leaves the host alone).
	Target *Target
}

// AuthChange is what an auth step changes. It never holds a password:
// Password says where apply reads it when the step runs.
type AuthChange struct {
	Role       string
	User       string
	Permission *Permission     // grant-permission, revoke-permission
	Password   *PasswordSource // add-user, set-password
	NoPassword bool            // add-user of a user without a password
}

// Permission is a key range and the access a role has to it: Type
// "read", "write" or "readwrite"; RangeEnd "" for the single key Key,
// "\x00" for every key from Key on.
type Permission struct {
	Type, Key, RangeEnd string
}

// PasswordSource is where a password comes from on the machine running
// etcdform: an environment variable (Env) or a file (File, an absolute
// path; one trailing newline dropped).
type PasswordSource struct {
	Env  string
	File string
}

// String describes the source: "env NAME" or "file PATH".
func (s PasswordSource) String() string {
	if s.Env != "" {
		return "env " + s.Env
	}
	return "file " + s.File
}

// JobInstall is an InstallBackupJob step's work on the host, in this
// order: write Write, reload systemd when a unit was written, enable and
// restart Timer; only then (the new job is in place) stop and disable
// StopTimers, delete Remove and reload systemd when a unit was removed;
// then, with Run, run the job once (a job that cannot run fails the apply
// now, not at its first scheduled time). Apply derives the command from
// the written files (backupjob.Check, backupjob.RunCommand), never from free text.
type JobInstall struct {
	Scheduler  string   // "cron" or "systemd": the scheduler of Write
	Write      []File   // the job's files, whole
	Timer      string   // the systemd timer to enable and restart ("" for cron)
	StopTimers []string // systemd timers of a job being removed
	Remove     []string // files of a job being removed or replaced, and stale credentials
	Run        bool     // run the written job once
}

// BackupSnapshot is one snapshot at a cluster's backup destination, as its
// record (the sidecar written by `etcdform backup run`) describes it: what
// a restore brings back and how apply checks that it got it. It holds no
// secret: the age identity that decrypts it is given to apply.
type BackupSnapshot struct {
	Destination string    // the destination URL, without credentials
	ID          string    // the snapshot's ID
	Object      string    // the object's name at the destination
	SHA256      string    // hex sha256 of the plaintext snapshot, trailing hash included
	Size        int64     // plaintext bytes
	Encrypted   bool      // age-encrypted (to Recipient)
	Recipient   string    // the age public key it is encrypted to
	Time        time.Time // when it was taken
	Revision    int64     // the keyspace's revision in it
	KeyCount    int64     // live keys at Revision
	EtcdVersion string    // the version of the member it came from; "" when not recorded
}

// File is a whole file to write on a host. It never holds a secret.
type File struct {
	Path    string
	Content []byte
	// Observed is the file the host held at Path when planned (nil when
	// absent), for display only: the plan shows Content as a diff
	// against it. Apply never writes it.
	Observed []byte
}

// Plan is an ordered list of steps with everything apply needs to decide
// whether the world it was planned against still holds.
type Plan struct {
	Meta        Meta
	Fingerprint state.Fingerprint
	Steps       []Step
	// Warnings are shown but do not block (drift, unmanaged keys, certs
	// expiring soon).
	Warnings []Warning
	// Refusals are reasons the plan cannot be applied; a plan with
	// refusals is written for review but apply rejects it.
	Refusals []Warning
	// Risks are the settings the operator guides call dangerous that the
	// planned clusters keep (the configuration's safe-default warnings),
	// in cluster order: those a cluster accepts with an accept_risk block,
	// with its reason, so a reviewer sees each one, and those it does not.
	// Display only: apply never reads them.
	Risks []RiskNote
	// Clusters lists the names of the clusters that were planned, in
	// configuration order (also those that need no step).
	Clusters []string
	// Targets say how apply reaches each planned cluster's etcd, in the
	// order of Clusters (AddTargets).
	Targets []ClusterTarget
}

// Warning is a message about one cluster/member.
type Warning struct {
	Cluster string
	Member  string
	// Step is the 1-based index in Plan.Steps of the step this message is
	// about, or 0 when it concerns no single step.
	Step    int
	Summary string // short, title case, no trailing period
	Detail  string // whole sentences: why, and what to do
}

// RiskNote is one dangerous setting a planned cluster keeps
// (schema.RiskFinding).
type RiskNote struct {
	Cluster string
	Risk    string // the accept_risk label: "plaintext-client"
	Summary string // short, title case: "Client traffic without TLS"
	// Source is where the configuration says it, as FILE:LINE relative to
	// the configuration directory: the accept_risk block when accepted,
	// else the setting.
	Source   string
	Accepted bool
	Reason   string // the accept_risk block's reason; "" when not accepted
	// Detail is the warning's text: what carries the risk, the operator
	// guide's reason quoted, and how to fix or accept it.
	Detail string
}

// Meta records who planned what, when.
type Meta struct {
	ToolVersion string
	Time        time.Time
	GitCommit   string
	Author      string
	ConfigHash  string // schema.Config.Hash
	ConfigDir   string
	// Only is the selection the plan was reduced to (`plan --only`):
	// "maintenance" for a plan that holds only maintenance steps (the
	// actions table's Maintenance column) and the snapshot before them,
	// or "" for a whole plan. Apply re-derives the steps with the same
	// selection.
	Only string
	// Selection is the clusters `plan --cluster` selected, in
	// configuration order; nil for a plan of every cluster in the
	// configuration. The plan observed and planned only these (Clusters
	// is the same set), and apply loads only these from the
	// configuration, so it contacts no other cluster's members.
	Selection []string
	// Recover says the plan was made with `plan --recover`: a cluster
	// that lost its quorum gets the recovery from its survivor
	// (StopMember, RecoverSurvivor, then add-learner and promote per
	// member) instead of a refusal. Apply re-derives the steps with the
	// same option; nothing else implies it.
	Recover bool
	// RestoreFrom is the ID of the backup snapshot a `plan --restore-from`
	// plan restores (`latest` is resolved to the ID when planning), ""
	// otherwise. Apply re-derives the steps with the same snapshot;
	// nothing else implies a restore.
	RestoreFrom string
	// RestoreOverData says the restore was asked for even though data
	// dirs hold data (`plan --restore-over-data`): they are moved aside.
	RestoreOverData bool
}

// HasRefusals reports whether apply must reject the plan.
func (p *Plan) HasRefusals() bool { return len(p.Refusals) > 0 }

// HasChanges reports whether the plan has any step.
func (p *Plan) HasChanges() bool { return len(p.Steps) > 0 }

// QuotaMarginMin and QuotaMarginPercent define the headroom a quota must
// keep above a DB: the larger of 64 MiB and 10% of the DB's size
// (QuotaMargin). The planner refuses a quota with less above the largest
// member's DB, and a NOSPACE disarm needs it (DisarmLimit).
const (
	QuotaMarginMin     = 64 << 20
	QuotaMarginPercent = 10
)

// QuotaMargin is the headroom a quota must keep above a DB of dbSize bytes.
func QuotaMargin(dbSize int64) int64 {
	return max(QuotaMarginMin, dbSize*QuotaMarginPercent/100)
}

// DisarmLimit is the largest DB size that keeps QuotaMargin under quota:
// apply disarms NOSPACE only when every member's DB, after the recovery's
// compaction and defragmentation (and a quota raise planned before it), is
// at most this. Above it the next writes would raise NOSPACE again.
func DisarmLimit(quota int64) int64 {
	if s := quota - QuotaMarginMin; s*QuotaMarginPercent/100 <= QuotaMarginMin {
		return max(0, s)
	}
	s := quota * 100 / (100 + QuotaMarginPercent)
	for s+1+QuotaMargin(s+1) <= quota { // the integer division's rounding
		s++
	}
	return s
}
