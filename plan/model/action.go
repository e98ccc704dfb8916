package model

// Action is the kind of one step. Its value is the symbol the plan views
// print. Apply decides what to do from the Action alone, never from the
// Reason prose.
//
// Everything the rest of etcdform knows about an action (its name in plan
// files and JSON, its legend and counter words, its colour, the health
// gates and timeout apply puts around it, how it uses fault tolerance) is
// its row in the actions table below; apply's handler for it is in
// apply's handlers map. TestActionTable (internal/actiontest) walks every
// row.
type Action rune

const (
	NoOp Action = 0
	// Snapshot takes and verifies a snapshot before risky work.
	Snapshot Action = 'S'
	// AddLearner adds a member as a learner, writes its config with
	// initial-cluster-state "existing", starts it and waits for catch-up.
	AddLearner Action = '+'
	// Promote promotes the learner added by the preceding AddLearner.
	Promote Action = '^'
	// RemoveMember moves leadership away if needed, removes the member,
	// stops its service and moves its data dir aside.
	RemoveMember Action = '-'
	// WriteConfig writes a member's config file atomically (After holds
	// the whole file). It does not restart.
	WriteConfig Action = '~'
	// Restart restarts a member through its service manager; if it leads
	// when its turn comes, leadership is moved away first.
	Restart Action = 'R'
	// StartMember starts a member whose service is stopped.
	StartMember Action = '>'
	// UploadFile writes TLS files to a member's host from their local
	// sources (Step.Uploads: one CA bundle, or the key and certificate of
	// one side, which are swapped together); it does not restart. See
	// tls.go.
	UploadFile Action = 'U'
	// InstallBackupJob installs, updates or removes the backup job
	// (Step.Job: a cron.d file or systemd units) and the etcdform binary it
	// runs (Step.Uploads, when that differs) on a member's host.
	InstallBackupJob Action = 'B'
	// Compact compacts the cluster's keyspace history up to
	// Step.Revision (a cluster-wide step: Member is "").
	Compact Action = 'C'
	// Defrag defragments one member's backend (Step.MemberID), which
	// blocks that member while it runs; the planner orders followers
	// first and the leader last.
	Defrag Action = 'D'
	// DisarmAlarm disarms one raised alarm (Step.Alarm) of one member
	// (Step.MemberID). Only NOSPACE is ever planned; CORRUPT never is.
	DisarmAlarm Action = 'A'
	// InstallBinary installs etcd and etcdutl on a member's host from the
	// checked release artifact (Step.Uploads: the extracted binaries,
	// read and checked against their sha256 at apply time), staged next
	// to their targets, checked there, and swapped in together, the
	// previous binaries kept as PATH.bak for rollback. It does not
	// restart.
	InstallBinary Action = 'I'
	// InstallService installs etcd's service on a new member's host: the
	// dedicated user (when not root), the data dir (mode 0700, owned by
	// that user) and the service definition (Step.Config: a systemd unit
	// or a runit run script, whole; Target.Service says which), left
	// stopped. See internal/servicedef.
	InstallService Action = 'V'
	// BootstrapStart enables and starts one member of a new cluster
	// without waiting for it to be ready (it cannot be before a quorum
	// of its peers runs). The starts of one cluster's members run as one
	// batch; the health gate follows the last.
	BootstrapStart Action = '*'
	// StopMember stops a member's service, disables it and moves its data
	// dir's member/ aside (kept): the first part of the recovery from a
	// lost quorum (`plan --recover`), for every member but the survivor,
	// and of a restore from a backup (`plan --restore-from`), for every
	// member.
	StopMember Action = 'x'
	// RecoverSurvivor makes the survivor of a lost quorum a one-member
	// cluster with a new cluster ID: it stops the member, moves its data
	// dir's member/ aside (kept), restores the backend of that copy with
	// etcdutl snapshot restore (a new cluster token, the revision bumped,
	// history marked compacted), writes its config (Step.Config) and
	// starts it. The other members are then added back as learners.
	RecoverSurvivor Action = '!'
	// UpgradeMember swaps in the etcd binaries an earlier stage-binary
	// staged on the member's host (Step.Uploads: paths and sha256, checked
	// again; the previous kept as PATH.bak), restarts the member on them
	// (leadership moved away first, as for a Restart) and waits until it
	// reports Target.Version. The planner orders followers first and the
	// leader last.
	UpgradeMember Action = 'u'
	// StageBinary uploads etcd and etcdutl from the checked release
	// artifact (Step.Uploads) next to their targets on a member's host
	// (PATH.etcdform-new) and checks them there; the running binary is
	// untouched until the member's upgrade-member step swaps them in.
	// Consecutive stage-binary steps run at the same time (Concurrent).
	StageBinary Action = 'b'
	// CheckV2Store runs `etcdutl check v2store` (the host's etcdutl, of
	// the version the member runs) on a copy of the member's WAL and v2
	// snapshots, before a 3.5 to 3.6 upgrade installs anything: 3.6 no
	// longer reads the v2 store, so custom content there stops the apply.
	CheckV2Store Action = '2'

	// The auth actions change etcd's auth store, cluster-wide (Member is
	// ""); Step.Auth names what they change. None takes a member down.

	// AddRole adds the role Step.Auth.Role.
	AddRole Action = 'r'
	// GrantPermission grants Step.Auth.Role the permission
	// Step.Auth.Permission (or changes the type of one on the same range).
	GrantPermission Action = 'P'
	// RevokePermission revokes from Step.Auth.Role the permission on the
	// range of Step.Auth.Permission.
	RevokePermission Action = 'p'
	// AddUser adds the user Step.Auth.User with the password apply reads
	// from Step.Auth.Password (or none, Step.Auth.NoPassword), and records
	// the password's bcrypt hash under /etcdform/auth/password/.
	AddUser Action = 'n'
	// GrantRole grants Step.Auth.Role to Step.Auth.User.
	GrantRole Action = 'g'
	// RevokeRole revokes Step.Auth.Role from Step.Auth.User.
	RevokeRole Action = 'k'
	// SetPassword sets the password of Step.Auth.User to what its source
	// Step.Auth.Password holds when apply runs, and records its hash.
	SetPassword Action = 'w'
	// EnableAuth switches authentication on, after making sure etcdform's
	// own credentials will work once it is (the user exists and holds
	// root; with a password, it is set to the one etcdform uses).
	EnableAuth Action = 'E'
	// DisableAuth switches authentication off (only with allow_disable).
	DisableAuth Action = 'e'

	// FetchBackup fetches the snapshot a restore brings back
	// (Step.Backup) from the cluster's backup destination to where
	// etcdform runs, decrypts it with the age identity given to apply
	// (never stored in the plan), and checks its size, sha256 and
	// trailing hash against the plan's; a cluster-wide step (Member "")
	// that touches no host: the restore's first step, so that a wrong
	// identity or a damaged object stops the apply before any member is
	// stopped. The checked copy is kept for the run's restore-member
	// steps.
	FetchBackup Action = 'F'
	// RestoreMember uploads the snapshot FetchBackup checked (Step.Backup)
	// to the member's host, checks it there, restores it with etcdutl
	// snapshot restore into the member's data dir (which must hold no
	// member/: the StopMember before moved it aside) as a member of a new
	// cluster (the whole initial cluster and the new token of Step.Config,
	// the revision bumped, the history marked compacted) and writes its
	// config (Step.Config). It does not start it: the restored members
	// are started together by BootstrapStart steps.
	RestoreMember Action = 'o'
	// DowngradeValidate asks etcd whether the cluster can be downgraded
	// to Step.Version's minor (`etcdctl downgrade validate`; a cluster-wide
	// step: Member is ""). It changes nothing.
	DowngradeValidate Action = '?'
	// DowngradeEnable enables etcd's downgrade to Step.Version's minor
	// (`etcdctl downgrade enable`): the cluster version drops to it at
	// once, and the step waits until every member reports that storage
	// version, as etcd's downgrade guide asks before the first binary is
	// replaced. A cluster-wide step. When a later step of the apply fails
	// while members still run the newer version, apply sends `downgrade
	// cancel`.
	DowngradeEnable Action = '<'
	// DowngradeMember is an UpgradeMember to an older version (the same
	// work: swap in the staged binaries, restart, wait until the member
	// reports Target.Version), after DowngradeEnable.
	DowngradeMember Action = 'd'
	// WaitClusterVersion waits, after the last member changed version,
	// until the cluster version is Step.Version's minor and every member
	// reports Step.Version, then checks the member list against the
	// plan's: Step.Voters voters and no learner. A cluster-wide step.
	WaitClusterVersion Action = '='
)

// ActionInfo is one row of the actions table: what every part of etcdform
// but the planner's decisions and apply's handler needs to know about an
// action.
type ActionInfo struct {
	Action Action // its value is the symbol: 'R'
	// Name is the action in plan files, plan JSON, the audit and apply's
	// progress: "write-config". Never change it: saved plans and scripts
	// that read the JSON know actions by it.
	Name string
	// Legend is what the symbol stands for in the human view's legend:
	// "write config".
	Legend string
	// One and Many count steps in the plan summary: "1 restart", "3
	// restarts".
	One, Many string
	// Effect is what the step does to the cluster in broad strokes; the
	// views colour the symbol and count Markdown columns by it.
	Effect Effect
	// Risky: a step of this action changes the membership, what a member
	// runs or whether it runs, where a restore from a snapshot can be the
	// way back; the planner puts a snapshot before the first one. Steps
	// that touch no live key are not risky even when they block a member
	// for a while (compact frees only history, which no snapshot would
	// bring back; defrag rewrites a member's file atomically; disarm-alarm
	// only lets writes in again): a snapshot before them is no way back,
	// and under NOSPACE it would only delay the recovery.
	Risky bool
	// Maintenance: the action is routine upkeep that changes no
	// configuration and no membership (compact, defrag, disarm-alarm).
	// `plan --only maintenance` keeps only steps of such actions (and the
	// snapshot before a risky one), and a scheduled apply runs such a plan
	// without review; every other action needs a reviewed plan. Leave it
	// false unless the action is safe to run unreviewed on a schedule.
	Maintenance bool
	// Before and After are the health gates apply runs around the step.
	Before, After Gate
	// Tolerance is how the step uses the cluster's fault tolerance.
	Tolerance Tolerance
	// Timeout is the time bound apply puts on the step's own work.
	Timeout Timeout
	// Auth: the action changes etcd's auth store, cluster-wide, and its
	// steps carry Step.Auth (and only they do).
	Auth bool
	// Batch: consecutive steps of this action in one cluster work only
	// together (the starts of a new cluster's members: none is healthy
	// alone), so apply runs the After gate once, after the last of them.
	Batch bool
	// Concurrent: consecutive steps of this action in one cluster may run
	// at the same time, each on its own member's host. Only an action
	// whose steps touch nothing that runs and need nothing of each other
	// may be (staging a binary): no gate before or after, no fault
	// tolerance used, not risky (TestActionTable checks). Each step keeps
	// its own outcome and audit entry; apply starts the group's steps
	// together, waits for all of them, and stops after the group when one
	// failed.
	Concurrent bool
	// Does says what apply does for a step of this action, in plain words
	// for someone on call (the runbook `show --markdown` adds to a
	// recovery plan): one sentence in the present tense about "the
	// member", without its name, ending with a full stop.
	Does string
	// Recovery: the action recovers a cluster from a failure (a lost
	// quorum, lost data). The Markdown view adds a runbook to a plan
	// holding one: every step of that cluster in order, in plain words
	// (Does), with what the recovery loses in bold.
	Recovery bool
}

// Effect is what a step does to the cluster, in broad strokes.
type Effect uint8

const (
	// EffectOther: snapshots and files beside etcd (TLS, backup job).
	EffectOther Effect = iota
	// EffectAdd adds a member or brings one back (green).
	EffectAdd
	// EffectRemove removes a member (red).
	EffectRemove
	// EffectConfig changes etcd's configuration; the Markdown view counts
	// these as config writes (yellow).
	EffectConfig
	// EffectRestart restarts etcd; the Markdown view counts these as
	// restarts (cyan).
	EffectRestart
)

// Gate is a health gate apply runs before or after a step: it waits, up to
// its gate timeout, until the cluster's health check passes.
type Gate uint8

const (
	// GateNone: no gate.
	GateNone Gate = iota
	// GateAll: every member must pass.
	GateAll
	// GateOthers: every member but the step's own (which the step is
	// about to take down or remove) must pass.
	GateOthers
)

// Tolerance says how a step uses the cluster's fault tolerance.
type Tolerance uint8

const (
	// ToleranceKept: the step takes no member down.
	ToleranceKept Tolerance = iota
	// ToleranceMemberDown: the step takes its member down for a while;
	// the planner checks it against fault_tolerance.
	ToleranceMemberDown
	// ToleranceMembership: the step changes the voter set; the planner
	// checks its narrowest point against fault_tolerance, warns when that
	// reaches zero, and the Markdown view counts it under Membership.
	ToleranceMembership
)

// Timeout is the time bound class of a step.
type Timeout uint8

const (
	// TimeoutStep: apply's step timeout.
	TimeoutStep Timeout = iota
	// TimeoutBackupRun: the step timeout, plus the backup-run timeout
	// when the step runs the backup job once (Step.Job.Run: a whole
	// snapshot, encrypted and uploaded) or moves a backup
	// (Step.Backup: fetched and decrypted, or uploaded and restored).
	TimeoutBackupRun
	// TimeoutDBSize: the step timeout, plus the time to rewrite the
	// step's member's DB, as it reports its size when the step starts, at
	// DefragBytesPerSecond (a defragmentation copies the whole file).
	TimeoutDBSize
)

// DefragBytesPerSecond is the rate a TimeoutDBSize step's time bound
// assumes for rewriting a DB: 8 MiB/s, well below a disk's (a 2 GiB DB
// gets 4 min 16 s more than the step timeout, an 8 GiB one 17 min).
const DefragBytesPerSecond = 8 << 20

// actions is the table of actions, in the order the plan summary counts
// them and the legend lists them.
var actions = [...]ActionInfo{
	{Action: Snapshot, Name: "snapshot", Legend: "snapshot", One: "snapshot", Many: "snapshots", Does: "Takes a snapshot of the cluster from a healthy member and verifies it, as the way back before the first risky step."},
	{Action: StartMember, Name: "start-member", Legend: "start", One: "member start", Many: "member starts", Does: "Starts the member's stopped service and waits until every member is healthy.",
		Effect: EffectAdd, Risky: true, After: GateAll},
	{Action: AddLearner, Name: "add-learner", Legend: "add learner", One: "learner add", Many: "learner adds", Does: "Adds the member to the member list as a learner (it does not vote), writes its config, starts it and waits until it has caught up with the leader.",
		Effect: EffectAdd, Risky: true, Before: GateAll, Tolerance: ToleranceMembership},
	{Action: Promote, Name: "promote", Legend: "promote", One: "promotion", Many: "promotions", Does: "Promotes the learner to a voting member once it is in sync, and waits until every member is healthy.",
		Effect: EffectAdd, Risky: true, Before: GateAll, After: GateAll, Tolerance: ToleranceMembership},
	{Action: RemoveMember, Name: "remove-member", Legend: "remove", One: "removal", Many: "removals", Does: "Moves leadership away if the member leads, removes it from the member list, then stops and disables its service and renames its data dir's member/ to member.removed-<UTC time> (kept on disk).",
		Effect: EffectRemove, Risky: true, Before: GateOthers, After: GateAll, Tolerance: ToleranceMembership},
	{Action: UploadFile, Name: "upload-file", Legend: "upload file", One: "file upload", Many: "file uploads", Does: "Uploads the member's TLS files from their checked sources (a key and its certificate together); etcd reads them at its next restart.",
		After: GateAll},
	{Action: InstallBackupJob, Name: "install-backup-job", Legend: "backup job", One: "backup job change", Many: "backup job changes", Does: "Installs or updates the scheduled backup job on the member's host (and runs it once when it is new or changed).",
		After: GateAll, Timeout: TimeoutBackupRun},
	{Action: Compact, Name: "compact", Legend: "compact", One: "compaction", Many: "compactions", Does: "Compacts the keyspace history up to the planned revision (old revisions of keys are dropped; current values are kept).",
		After: GateAll, Maintenance: true},
	{Action: Defrag, Name: "defrag", Legend: "defragment", One: "defragmentation", Many: "defragmentations", Does: "Defragments the member's database file (the member does not answer while it runs) and waits until every member is healthy.",
		Before: GateOthers, After: GateAll, Tolerance: ToleranceMemberDown, Maintenance: true, Timeout: TimeoutDBSize},
	{Action: DisarmAlarm, Name: "disarm-alarm", Legend: "disarm alarm", One: "alarm disarm", Many: "alarm disarms", Does: "Checks that every member's database is below its quota with a margin, then disarms the alarm so that the cluster takes writes again.",
		After: GateAll, Maintenance: true},
	{Action: CheckV2Store, Name: "check-v2store", Legend: "check v2 store", One: "v2 store check", Many: "v2 store checks", Does: "Checks a copy of the member's v2 store with etcdutl before the upgrade installs anything; custom content stops the apply."},
	{Action: StageBinary, Name: "stage-binary", Legend: "stage binary", One: "binary staged", Many: "binaries staged", Does: "Uploads the checked etcd and etcdutl binaries next to the member's current ones, without touching what runs.",
		Concurrent: true},
	{Action: InstallBinary, Name: "install-binary", Legend: "install binary", One: "binary install", Many: "binary installs", Does: "Installs the checked etcd and etcdutl binaries on the member's host, keeping the previous ones as .bak; no restart."},
	{Action: InstallService, Name: "install-service", Legend: "install service", One: "service install", Many: "service installs", Does: "Creates the service user, the data dir (mode 0700) and the service definition on the member's host, left stopped."},
	{Action: FetchBackup, Name: "fetch-backup", Legend: "fetch and check a backup", One: "backup fetch", Many: "backup fetches", Does: "Fetches the backup snapshot from the backup destination to where etcdform runs, decrypts it with the age identity given to apply and checks its size, sha256 and trailing hash against the record shown; no host is touched, so a wrong identity or a damaged object stops the apply here.", Recovery: true,
		Timeout: TimeoutBackupRun},
	{Action: StopMember, Name: "stop-member", Legend: "stop and move data aside", One: "member stop", Many: "member stops", Does: "Stops and disables the member's service and renames its data dir's member/ to member.removed-<UTC time> (kept on disk), so that the member starts empty: added back (a recovery) or restored (a restore from a backup).", Recovery: true,
		Effect: EffectRemove},
	{Action: RecoverSurvivor, Name: "recover-survivor", Legend: "recover from the survivor", One: "recovery from a survivor", Many: "recoveries from a survivor", Does: "Makes the member a one-member cluster from its own data: stops it, renames its data dir's member/ aside (kept on disk), restores that copy with etcdutl under a new cluster ID with the revision bumped, writes its config and starts it.", Recovery: true,
		Effect: EffectAdd, Risky: true, After: GateAll},
	{Action: RestoreMember, Name: "restore-member", Legend: "restore the backup", One: "member restored from a backup", Many: "members restored from a backup", Does: "Uploads the checked snapshot to the member's host, restores it there with etcdutl as a member of a new cluster (revision bumped, history marked compacted) into the empty data dir, and writes its config; the member is started with the others afterwards.", Recovery: true,
		Effect: EffectAdd, Timeout: TimeoutBackupRun},
	{Action: WriteConfig, Name: "write-config", Legend: "write config", One: "config write", Many: "config writes", Does: "Writes the member's config file (shown in full below); it takes effect at the member's next restart.",
		Effect: EffectConfig},
	{Action: Restart, Name: "restart", Legend: "restart", One: "restart", Many: "restarts", Does: "Moves leadership away if the member leads, restarts the member and waits until every member is healthy and its clients are back.",
		Effect: EffectRestart, Risky: true, Before: GateOthers, After: GateAll, Tolerance: ToleranceMemberDown},
	{Action: UpgradeMember, Name: "upgrade-member", Legend: "restart on the new version", One: "member upgrade", Many: "member upgrades", Does: "Moves leadership away if the member leads, swaps in the staged binaries (the old ones kept as .bak), restarts the member and waits until it reports the new version.",
		Effect: EffectRestart, Risky: true, Before: GateOthers, After: GateAll, Tolerance: ToleranceMemberDown},
	{Action: AddRole, Name: "add-role", Legend: "add role", One: "role add", Many: "role adds", Does: "Creates the role in etcd's auth store.", Auth: true},
	{Action: GrantPermission, Name: "grant-permission", Legend: "grant permission", One: "permission grant", Many: "permission grants", Does: "Grants the role the planned permission on a key range.", Auth: true},
	{Action: RevokePermission, Name: "revoke-permission", Legend: "revoke permission", One: "permission revoke", Many: "permission revokes", Does: "Revokes the role's permission on a key range.", Auth: true},
	{Action: AddUser, Name: "add-user", Legend: "add user", One: "user add", Many: "user adds", Does: "Creates the user in etcd's auth store, with its password from its source (never shown).", Auth: true},
	{Action: GrantRole, Name: "grant-role", Legend: "grant role", One: "role grant", Many: "role grants", Does: "Grants the user the role.", Auth: true},
	{Action: RevokeRole, Name: "revoke-role", Legend: "revoke role", One: "role revoke", Many: "role revokes", Does: "Revokes the role from the user.", Auth: true},
	{Action: SetPassword, Name: "set-password", Legend: "set password", One: "password set", Many: "passwords set", Does: "Sets the user's password from its source (never shown).", Auth: true},
	{Action: EnableAuth, Name: "enable-auth", Legend: "enable auth", One: "auth enable", Many: "auth enables", Does: "Turns etcd's authentication on, after checking that etcdform's own credentials will still work.",
		Effect: EffectConfig, After: GateAll, Auth: true},
	{Action: DisableAuth, Name: "disable-auth", Legend: "disable auth", One: "auth disable", Many: "auth disables", Does: "Turns etcd's authentication off (allowed by allow_disable).",
		Effect: EffectConfig, After: GateAll, Auth: true},
	{Action: DowngradeValidate, Name: "downgrade-validate", Legend: "validate downgrade", One: "downgrade validation", Many: "downgrade validations", Does: "Asks etcd whether the cluster can be downgraded to the target minor (etcdctl downgrade validate); it changes nothing.",
		Before: GateAll},
	{Action: DowngradeEnable, Name: "downgrade-enable", Legend: "enable downgrade", One: "downgrade enable", Many: "downgrade enables", Does: "Enables etcd's downgrade to the target minor (etcdctl downgrade enable), which drops the cluster version at once, and waits until every member reports that storage version.",
		Effect: EffectConfig, Risky: true, Before: GateAll, After: GateAll},
	{Action: DowngradeMember, Name: "downgrade-member", Legend: "restart on the older version", One: "member downgrade", Many: "member downgrades", Does: "Swaps in the older etcd binaries staged on the member's host, restarts the member on them (moving leadership away first if it leads) and waits until it reports that version.",
		Effect: EffectRestart, Risky: true, Before: GateOthers, After: GateAll, Tolerance: ToleranceMemberDown},
	{Action: WaitClusterVersion, Name: "wait-cluster-version", Legend: "wait for the cluster version", One: "cluster version wait", Many: "cluster version waits", Does: "Waits until the cluster version reaches the target minor and every member reports the target version, then checks that the member list holds the planned voters and no learner.",
		After: GateAll},
	{Action: BootstrapStart, Name: "bootstrap-start", Legend: "start new cluster member", One: "new cluster member start", Many: "new cluster member starts", Does: "Starts the member of the new cluster; the health check waits for the last member of the batch.",
		Effect: EffectAdd, After: GateAll, Batch: true},
}

// Actions returns the table of actions, one row per action, in summary
// order.
func Actions() []ActionInfo { return append([]ActionInfo(nil), actions[:]...) }

// Info returns a's row of the actions table. For NoOp and for a value
// that names no action (Valid is false) it is a row holding only Action and
// a Name: "no-op", "Action(x)".
func (a Action) Info() ActionInfo {
	for _, r := range actions {
		if r.Action == a {
			return r
		}
	}
	if a == NoOp {
		return ActionInfo{Action: a, Name: "no-op"}
	}
	return ActionInfo{Action: a, Name: "Action(" + string(rune(a)) + ")"}
}

// Valid reports whether a has a row in the actions table.
func (a Action) Valid() bool {
	for _, r := range actions {
		if r.Action == a {
			return true
		}
	}
	return false
}

// ActionNamed returns the action whose Name is name.
func ActionNamed(name string) (Action, bool) {
	for _, r := range actions {
		if r.Name == name {
			return r.Action, true
		}
	}
	return NoOp, false
}

// String returns the action's Name: "write-config".
func (a Action) String() string { return a.Info().Name }

// IsRisky reports whether a step of this kind can reduce availability and so
// needs a snapshot before the first one (its row's Risky).
func (a Action) IsRisky() bool { return a.Info().Risky }

// IsMaintenance reports whether a step of this kind is routine upkeep that
// a maintenance-only plan may hold (its row's Maintenance).
func (a Action) IsMaintenance() bool { return a.Info().Maintenance }

// AsidePrefix starts the name under which a step moves a data dir's
// member/ aside, inside the data dir, never deleting it; a timestamp
// follows ("member.removed-20261202T061000Z"). Entries with this prefix do
// not make a data dir count as in use for a new member.
const AsidePrefix = "member.removed-"

// RecoverBumpRevision is how far recover-survivor moves the keyspace's
// revision forward (etcdutl snapshot restore --bump-revision), as etcd's
// disaster recovery guide advises: far beyond what the lost entries can
// have used, so that no revision a client saw is reused; with the history
// marked compacted, watchers resume with a compaction error instead of
// silently missing events.
const RecoverBumpRevision = 1_000_000_000
