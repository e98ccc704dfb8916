package planfile

import (
	"encoding/json"
	"time"
)

// The serialized types. They never leave this package.

type envelope struct {
	FormatVersion int             `json:"format_version"`
	Checksum      string          `json:"checksum"`
	Plan          json.RawMessage `json:"plan"`
	// Signature is absent from unsigned plans (sign.go).
	Signature *fileSignature `json:"signature,omitempty"`
}

type filePlan struct {
	Meta        fileMeta      `json:"meta"`
	Clusters    []string      `json:"clusters,omitempty"`
	Fingerprint []fileCluster `json:"fingerprint,omitempty"`
	Steps       []fileStep    `json:"steps,omitempty"`
	Warnings    []fileWarning `json:"warnings,omitempty"`
	Refusals    []fileWarning `json:"refusals,omitempty"`
	// Targets say how apply reaches each cluster (format version 4).
	Targets []fileClusterTarget `json:"targets,omitempty"`
	// Risks are the dangerous settings the clusters keep, accepted or not
	// (format version 10).
	Risks []fileRisk `json:"risks,omitempty"`
}

type fileMeta struct {
	ToolVersion string    `json:"tool_version"`
	Time        time.Time `json:"time"`
	GitCommit   string    `json:"git_commit,omitempty"`
	Author      string    `json:"author,omitempty"`
	ConfigHash  string    `json:"config_hash,omitempty"`
	ConfigDir   string    `json:"config_dir,omitempty"`
	// Only is the --only selection of a reduced plan (format version 6).
	Only string `json:"only,omitempty"`
	// Selection is the clusters of a plan --cluster plan (format
	// version 7).
	Selection []string `json:"selection,omitempty"`
	// Recover: a plan --recover plan (issue 16).
	Recover bool `json:"recover,omitempty"`
	// RestoreFrom and RestoreOverData: a plan --restore-from plan
	// (format version 10).
	RestoreFrom     string `json:"restore_from,omitempty"`
	RestoreOverData bool   `json:"restore_over_data,omitempty"`
}

type fileCluster struct {
	Name      string `json:"name"`
	ClusterID string `json:"cluster_id"`
	// Leaderless is what binds a plan to a cluster without a leader
	// (state.ClusterFingerprint.Leaderless).
	Leaderless string `json:"leaderless,omitempty"`
	// Auth is state.ClusterFingerprint.Auth.
	Auth    string       `json:"auth,omitempty"`
	Members []fileMember `json:"members,omitempty"`
}

type fileMember struct {
	Name          string   `json:"name"`
	ID            string   `json:"id,omitempty"`
	PeerURLs      []string `json:"peer_urls,omitempty"`
	ClientURLs    []string `json:"client_urls,omitempty"`
	IsLearner     bool     `json:"is_learner,omitempty"`
	ConfigHash    string   `json:"config_hash,omitempty"`
	BinaryVersion string   `json:"binary_version,omitempty"`
	ServiceState  string   `json:"service_state,omitempty"`
	CertSerials   []string `json:"cert_serials,omitempty"`
	DataDir       string   `json:"data_dir,omitempty"`
}

type fileStep struct {
	Action   string       `json:"action"`
	Cluster  string       `json:"cluster"`
	Member   string       `json:"member,omitempty"`
	MemberID string       `json:"member_id,omitempty"`
	PeerURL  string       `json:"peer_url,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	Changes  []fileChange `json:"changes,omitempty"`
	Config   string       `json:"config,omitempty"`
	// ConfigObserved is the file the plan shows Config as a diff
	// against (format version 3).
	ConfigObserved string       `json:"config_observed,omitempty"`
	Leader         bool         `json:"leader,omitempty"`
	HostDown       bool         `json:"host_down,omitempty"`
	Voters         int          `json:"voters"`
	Tolerated      int          `json:"tolerated"`
	Uploads        []fileUpload `json:"uploads,omitempty"`
	Job            *fileJob     `json:"job,omitempty"`
	// Target is the member's host and etcd's paths and service there
	// (format version 4).
	Target *fileTarget `json:"target,omitempty"`
	// Revision is a compact step's revision, Alarm a disarm-alarm step's
	// alarm type (format version 5).
	Revision int64  `json:"revision,omitempty"`
	Alarm    string `json:"alarm,omitempty"`
	// Quota is the quota a NOSPACE disarm-alarm step checks the DB sizes
	// against (format version 8).
	Quota int64 `json:"quota,omitempty"`
	// Version is the etcd version of a downgrade-validate,
	// downgrade-enable or wait-cluster-version step (format version 13).
	Version string `json:"version,omitempty"`
	// Auth is what an auth step changes (format version 11).
	Auth *fileAuth `json:"auth,omitempty"`
	// Backup is the snapshot of a fetch-backup or restore-member step
	// (format version 12).
	Backup *fileBackup `json:"backup,omitempty"`
}

// fileAuth is plan.AuthChange: names, a key range and a password's
// source, never a password.
type fileAuth struct {
	Role       string          `json:"role,omitempty"`
	User       string          `json:"user,omitempty"`
	Permission *filePermission `json:"permission,omitempty"`
	Password   *filePassword   `json:"password_source,omitempty"`
	NoPassword bool            `json:"no_password,omitempty"`
}

type filePermission struct {
	Type     string `json:"type"`
	Key      string `json:"key"`
	RangeEnd string `json:"range_end,omitempty"`
}

type filePassword struct {
	Env  string `json:"env,omitempty"`
	File string `json:"file,omitempty"`
}

type fileBackup struct {
	Destination string    `json:"destination"`
	ID          string    `json:"id"`
	Object      string    `json:"object"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	Encrypted   bool      `json:"encrypted,omitempty"`
	Recipient   string    `json:"recipient,omitempty"`
	Time        time.Time `json:"time"`
	Revision    int64     `json:"revision"`
	KeyCount    int64     `json:"key_count"`
	EtcdVersion string    `json:"etcd_version,omitempty"`
}

type fileJob struct {
	Scheduler  string     `json:"scheduler,omitempty"`
	StopTimers []string   `json:"stop_timers,omitempty"`
	Remove     []string   `json:"remove,omitempty"`
	Write      []fileFile `json:"write,omitempty"`
	Timer      string     `json:"timer,omitempty"`
	Run        bool       `json:"run,omitempty"`
}

type fileFile struct {
	Path     string `json:"path"`
	Content  string `json:"content"`
	Observed string `json:"observed,omitempty"` // format version 3
}

type fileUpload struct {
	Role   string `json:"role"`
	Path   string `json:"path"`
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	Mode   uint32 `json:"mode"`
}

type fileChange struct {
	Attr   string `json:"attr"`
	Before string `json:"before"`
	After  string `json:"after"`
}

type fileWarning struct {
	Cluster string `json:"cluster,omitempty"`
	Member  string `json:"member,omitempty"`
	Step    int    `json:"step,omitempty"`
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
}

// fileRisk is a plan.RiskNote.
type fileRisk struct {
	Cluster  string `json:"cluster"`
	Risk     string `json:"risk"`
	Summary  string `json:"summary"`
	Source   string `json:"source,omitempty"`
	Accepted bool   `json:"accepted,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Detail quotes the operator guide (format version 14).
	Detail string `json:"detail,omitempty"`
}

// encodeAction and decodeAction write and read an action by its Name in
// the actions table (plan.Actions).
