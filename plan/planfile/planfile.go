package planfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/state"
)

// FormatVersion is the version of the file format this package writes and
// the only one it reads.
const FormatVersion = 14

// MaxSize bounds the size of a plan file Read accepts.
const MaxSize = 64 << 20

// Errors returned by Read. Both are wrapped with details.
var (
	// ErrCorrupted: the file does not parse, or its checksum does not
	// match its content.
	ErrCorrupted = errors.New("planfile: plan file is corrupted or was modified")
	// ErrVersion: the file was written in another format version.
	ErrVersion = errors.New("planfile: unsupported plan file format version")
)

// Write serializes p to w.
func Write(w io.Writer, p *plan.Plan) error {
	payload, err := toFile(p)
	if err != nil {
		return err
	}
	canon, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	env := envelope{FormatVersion: FormatVersion, Checksum: checksum(canon), Plan: canon}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	out = append(out, '\n')
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("planfile: writing: %w", err)
	}
	return nil
}

// Read parses a plan written by Write. It returns an error wrapping
// ErrVersion for another format version and ErrCorrupted for a file that
// does not parse or whose checksum does not match.
func Read(r io.Reader) (*plan.Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("planfile: reading: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupted, MaxSize)
	}
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	if head.FormatVersion == nil {
		return nil, fmt.Errorf("%w: no format_version (is this an etcdform plan file?)", ErrCorrupted)
	}
	switch v := *head.FormatVersion; {
	case v < FormatVersion:
		return nil, fmt.Errorf("%w: made by an older etcdform (format %d), plan again (this etcdform reads format %d)", ErrVersion, v, FormatVersion)
	case v > FormatVersion:
		return nil, fmt.Errorf("%w: made by a newer etcdform (format %d); apply it with that etcdform, or plan again with this one (format %d)", ErrVersion, v, FormatVersion)
	}
	var env envelope
	if err := strictUnmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	var payload filePlan
	if err := strictUnmarshal(env.Plan, &payload); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	canon, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	if got := checksum(canon); got != env.Checksum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupted)
	}
	p, err := fromFile(&payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	return p, nil
}

// WriteFile writes p to path atomically (temp file and rename), mode 0644.
func WriteFile(path string, p *plan.Plan) error {
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

// NotRegularError is returned when a plan file would replace something
// that is not a regular file.
type NotRegularError struct {
	Path string
	Kind string // "a named pipe", "a symbolic link", ...
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s; plan files are written only to regular files or new paths", e.Path, e.Kind)
}

// CheckWritable reports whether a plan file may be written at path: a new
// path, or an existing regular file. Anything else is refused: a device
// (writing through a rename would replace /dev/null itself), a named pipe,
// a socket, a directory, and a symbolic link, even one to a regular file
// (the rename would replace the link, not its target, and following it
// would write wherever the link points).
func CheckWritable(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	var kind string
	switch m := st.Mode(); {
	case m.IsRegular():
		return nil
	case m&os.ModeSymlink != 0:
		kind = "a symbolic link"
	case m.IsDir():
		kind = "a directory"
	case m&os.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	case m&os.ModeDevice != 0:
		kind = "a device"
	default:
		kind = "a special file"
	}
	return &NotRegularError{Path: path, Kind: kind}
}

func writeFileAtomic(path string, data []byte) error {
	if err := CheckWritable(path); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("planfile: writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("planfile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("planfile: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("planfile: %w", err)
	}
	return nil
}

// ReadFile reads the plan at path; errors are those of Read, naming the file.
func ReadFile(path string) (*plan.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("planfile: %w", err)
	}
	defer f.Close()
	p, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

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
func encodeAction(a plan.Action) (string, error) {
	if !a.Valid() {
		return "", fmt.Errorf("planfile: cannot write action %v", a)
	}
	return a.String(), nil
}

func decodeAction(s string) (plan.Action, error) {
	a, ok := plan.ActionNamed(s)
	if !ok {
		return plan.NoOp, fmt.Errorf("unknown action %q", s)
	}
	return a, nil
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func encodeID(id uint64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatUint(id, 16)
}

func decodeID(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseUint(s, 16, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("bad member ID %q", s)
	}
	return id, nil
}

func toFile(p *plan.Plan) (*filePlan, error) {
	f := &filePlan{
		Meta: fileMeta{
			ToolVersion: p.Meta.ToolVersion, Time: p.Meta.Time, GitCommit: p.Meta.GitCommit,
			Author: p.Meta.Author, ConfigHash: p.Meta.ConfigHash, ConfigDir: p.Meta.ConfigDir, Only: p.Meta.Only,
			Selection: p.Meta.Selection, Recover: p.Meta.Recover,
			RestoreFrom: p.Meta.RestoreFrom, RestoreOverData: p.Meta.RestoreOverData,
		},
		Clusters: p.Clusters,
	}
	if !plan.ValidOnly(p.Meta.Only) {
		return nil, fmt.Errorf("planfile: cannot write the selection --only %q", p.Meta.Only)
	}
	if err := checkSelection(p.Meta.Selection, p.Clusters); err != nil {
		return nil, fmt.Errorf("planfile: cannot write the plan: %w", err)
	}
	for _, c := range p.Fingerprint.Clusters {
		fc := fileCluster{Name: c.Name, ClusterID: strconv.FormatUint(c.ClusterID, 16), Leaderless: c.Leaderless, Auth: c.Auth}
		for _, m := range c.Members {
			fc.Members = append(fc.Members, fileMember{
				Name: m.Name, ID: encodeID(m.ID), PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs,
				IsLearner: m.IsLearner, ConfigHash: m.ConfigHash, BinaryVersion: m.BinaryVersion,
				ServiceState: m.ServiceState, CertSerials: m.CertSerials, DataDir: m.DataDir,
			})
		}
		f.Fingerprint = append(f.Fingerprint, fc)
	}
	for i, s := range p.Steps {
		a, err := encodeAction(s.Action)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		fs := fileStep{
			Action: a, Cluster: s.Cluster, Member: s.Member, MemberID: encodeID(s.MemberID), PeerURL: s.PeerURL,
			Reason: s.Reason, Config: string(s.Config), ConfigObserved: string(s.ConfigObserved), Leader: s.Leader, HostDown: s.HostDown,
			Voters: s.Voters, Tolerated: s.Tolerated, Revision: s.Revision, Alarm: s.Alarm, Quota: s.Quota, Version: s.Version,
		}
		for _, c := range s.Changes {
			fs.Changes = append(fs.Changes, fileChange(c))
		}
		for _, u := range s.Uploads {
			fs.Uploads = append(fs.Uploads, fileUpload(u))
		}
		if j := s.Job; j != nil {
			fj := &fileJob{Scheduler: j.Scheduler, StopTimers: j.StopTimers, Remove: j.Remove, Timer: j.Timer, Run: j.Run}
			for _, w := range j.Write {
				fj.Write = append(fj.Write, fileFile{Path: w.Path, Content: string(w.Content), Observed: string(w.Observed)})
			}
			fs.Job = fj
		}
		if b := s.Backup; b != nil {
			fb := fileBackup(*b)
			fs.Backup = &fb
		}
		fs.Target = toTarget(s.Target)
		if a := s.Auth; a != nil {
			fa := &fileAuth{Role: a.Role, User: a.User, NoPassword: a.NoPassword}
			if a.Permission != nil {
				fa.Permission = (*filePermission)(a.Permission)
			}
			if a.Password != nil {
				fa.Password = (*filePassword)(a.Password)
			}
			fs.Auth = fa
		}
		f.Steps = append(f.Steps, fs)
	}
	f.Warnings = toWarnings(p.Warnings)
	f.Refusals = toWarnings(p.Refusals)
	for _, t := range p.Targets {
		f.Targets = append(f.Targets, fileClusterTarget(t))
	}
	for _, r := range p.Risks {
		f.Risks = append(f.Risks, fileRisk(r))
	}
	return f, nil
}

// checkBackup refuses a backup record whose values apply could not use
// as they are: an ID or object name that is not a plain name, a sha256 that
// is not 64 hex digits, a negative size or revision.
func checkBackup(b plan.BackupSnapshot) error {
	switch {
	case !backupstore.ValidID(b.ID):
		return fmt.Errorf("bad snapshot ID %q", b.ID)
	case b.Object == "" || strings.ContainsAny(b.Object, "/\\\x00\n") || strings.Contains(b.Object, ".."):
		return fmt.Errorf("bad object name %q", b.Object)
	case len(b.SHA256) != 64 || strings.Trim(b.SHA256, "0123456789abcdef") != "":
		return fmt.Errorf("bad sha256 %q", b.SHA256)
	case b.Size <= 0 || b.Revision <= 0 || b.KeyCount < 0:
		return fmt.Errorf("bad size, revision or key count (%d, %d, %d)", b.Size, b.Revision, b.KeyCount)
	case b.Destination == "":
		return fmt.Errorf("no destination")
	}
	return nil
}

// checkSelection checks a plan --cluster selection against the clusters
// the plan covers: the same names, each once.
func checkSelection(sel, clusters []string) error {
	if sel == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, n := range sel {
		if n == "" || seen[n] {
			return fmt.Errorf("the cluster selection %q names a cluster twice or an empty one", sel)
		}
		seen[n] = true
	}
	if len(clusters) != len(sel) {
		return fmt.Errorf("the plan covers clusters %q, but its selection is %q", clusters, sel)
	}
	for _, n := range clusters {
		if !seen[n] {
			return fmt.Errorf("the plan covers clusters %q, but its selection is %q", clusters, sel)
		}
	}
	return nil
}

func toWarnings(ws []plan.Warning) []fileWarning {
	var out []fileWarning
	for _, w := range ws {
		out = append(out, fileWarning{Cluster: w.Cluster, Member: w.Member, Step: w.Step, Summary: w.Summary, Detail: w.Detail})
	}
	return out
}

func fromFile(f *filePlan) (*plan.Plan, error) {
	p := &plan.Plan{
		Meta: plan.Meta{
			ToolVersion: f.Meta.ToolVersion, Time: f.Meta.Time, GitCommit: f.Meta.GitCommit,
			Author: f.Meta.Author, ConfigHash: f.Meta.ConfigHash, ConfigDir: f.Meta.ConfigDir, Only: f.Meta.Only,
			Selection: f.Meta.Selection, Recover: f.Meta.Recover,
			RestoreFrom: f.Meta.RestoreFrom, RestoreOverData: f.Meta.RestoreOverData,
		},
		Clusters: f.Clusters,
	}
	if !plan.ValidOnly(f.Meta.Only) {
		return nil, fmt.Errorf("unknown selection --only %q", f.Meta.Only)
	}
	if err := checkSelection(f.Meta.Selection, f.Clusters); err != nil {
		return nil, err
	}
	for _, fc := range f.Fingerprint {
		id, err := strconv.ParseUint(fc.ClusterID, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: bad cluster ID %q", fc.Name, fc.ClusterID)
		}
		c := state.ClusterFingerprint{Name: fc.Name, ClusterID: id, Leaderless: fc.Leaderless, Auth: fc.Auth}
		for _, fm := range fc.Members {
			mid, err := decodeID(fm.ID)
			if err != nil {
				return nil, fmt.Errorf("cluster %s: %w", fc.Name, err)
			}
			c.Members = append(c.Members, state.MemberFingerprint{
				Name: fm.Name, ID: mid, PeerURLs: fm.PeerURLs, ClientURLs: fm.ClientURLs,
				IsLearner: fm.IsLearner, ConfigHash: fm.ConfigHash, BinaryVersion: fm.BinaryVersion,
				ServiceState: fm.ServiceState, CertSerials: fm.CertSerials, DataDir: fm.DataDir,
			})
		}
		p.Fingerprint.Clusters = append(p.Fingerprint.Clusters, c)
	}
	for i, fs := range f.Steps {
		a, err := decodeAction(fs.Action)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		id, err := decodeID(fs.MemberID)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		s := plan.Step{
			Action: a, Cluster: fs.Cluster, Member: fs.Member, MemberID: id, PeerURL: fs.PeerURL,
			Reason: fs.Reason, Leader: fs.Leader, HostDown: fs.HostDown, Voters: fs.Voters, Tolerated: fs.Tolerated,
			Revision: fs.Revision, Alarm: fs.Alarm, Quota: fs.Quota, Version: fs.Version,
		}
		versioned := s.Action == plan.DowngradeValidate || s.Action == plan.DowngradeEnable || s.Action == plan.WaitClusterVersion
		if versioned != (s.Version != "") || (versioned && !releaseVersion(s.Version)) {
			return nil, fmt.Errorf("step %d: a downgrade-validate, downgrade-enable or wait-cluster-version step needs a release version (x.y.z), and only they may have one", i+1)
		}
		if (s.Action == plan.Compact) != (s.Revision > 0) || fs.Revision < 0 {
			return nil, fmt.Errorf("step %d: a compact step needs a positive revision, and only it may have one", i+1)
		}
		if (s.Action == plan.DisarmAlarm) != (s.Alarm != "") || (s.Action == plan.DisarmAlarm && s.MemberID == 0) {
			return nil, fmt.Errorf("step %d: a disarm-alarm step needs an alarm and a member ID, and only it may have an alarm", i+1)
		}
		if (s.Action == plan.DisarmAlarm && s.Alarm == "NOSPACE") != (s.Quota > 0) || fs.Quota < 0 {
			return nil, fmt.Errorf("step %d: a disarm-alarm step of NOSPACE needs a positive quota, and only it may have one", i+1)
		}
		if fa := fs.Auth; fa != nil {
			s.Auth = &plan.AuthChange{Role: fa.Role, User: fa.User, NoPassword: fa.NoPassword}
			if fa.Permission != nil {
				s.Auth.Permission = (*plan.Permission)(fa.Permission)
			}
			if fa.Password != nil {
				s.Auth.Password = (*plan.PasswordSource)(fa.Password)
			}
		}
		if err := checkAuth(s); err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		if fs.Config != "" {
			s.Config = []byte(fs.Config)
		}
		s.ConfigObserved = bytesOrNil(fs.ConfigObserved)
		for _, c := range fs.Changes {
			s.Changes = append(s.Changes, plan.Change(c))
		}
		for _, u := range fs.Uploads {
			s.Uploads = append(s.Uploads, plan.Upload(u))
		}
		uploads := s.Action == plan.UploadFile || s.Action == plan.InstallBinary || s.Action == plan.StageBinary
		if (uploads && len(s.Uploads) == 0) || (len(s.Uploads) > 0 && !uploads && s.Action != plan.InstallBackupJob && s.Action != plan.UpgradeMember && s.Action != plan.DowngradeMember) {
			return nil, fmt.Errorf("step %d: an upload-file, install-binary or stage-binary step needs uploads, and only they, install-backup-job, upgrade-member and downgrade-member may have them", i+1)
		}
		if s.Action == plan.InstallService && (len(s.Config) == 0 || fs.Target == nil) {
			return nil, fmt.Errorf("step %d: an install-service step needs the service definition and a target", i+1)
		}
		if fj := fs.Job; fj != nil {
			j := &plan.JobInstall{Scheduler: fj.Scheduler, StopTimers: fj.StopTimers, Remove: fj.Remove, Timer: fj.Timer, Run: fj.Run}
			files := map[string][]byte{}
			for _, w := range fj.Write {
				files[w.Path] = []byte(w.Content)
				j.Write = append(j.Write, plan.File{Path: w.Path, Content: []byte(w.Content), Observed: bytesOrNil(w.Observed)})
			}
			if _, err := backupjob.Check(fs.Cluster, backupjob.Scheduler(j.Scheduler), files, j.Remove, j.StopTimers, j.Timer); err != nil {
				return nil, fmt.Errorf("step %d: backup job: %w", i+1, err)
			}
			if j.Run && len(j.Write) == 0 {
				return nil, fmt.Errorf("step %d: backup job: run without job files", i+1)
			}
			s.Job = j
		}
		if (s.Action == plan.InstallBackupJob) != (s.Job != nil && (len(s.Job.Write) > 0 || len(s.Job.Remove) > 0)) {
			return nil, fmt.Errorf("step %d: an install-backup-job step needs a job with files to write or remove, and only it may have one", i+1)
		}
		if fb := fs.Backup; fb != nil {
			b := plan.BackupSnapshot(*fb)
			if err := checkBackup(b); err != nil {
				return nil, fmt.Errorf("step %d: backup: %w", i+1, err)
			}
			s.Backup = &b
		}
		if (s.Action == plan.FetchBackup || s.Action == plan.RestoreMember) != (s.Backup != nil) {
			return nil, fmt.Errorf("step %d: a fetch-backup or restore-member step needs a backup, and only they may have one", i+1)
		}
		if s.Action == plan.RestoreMember && (len(s.Config) == 0 || fs.Target == nil || s.PeerURL == "") {
			return nil, fmt.Errorf("step %d: a restore-member step needs a config, a peer URL and a target", i+1)
		}
		t, err := fromTarget(fs.Target)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		s.Target = t
		p.Steps = append(p.Steps, s)
	}
	for _, t := range f.Targets {
		p.Targets = append(p.Targets, plan.ClusterTarget(t))
	}
	for _, r := range f.Risks {
		if r.Accepted != (r.Reason != "") {
			return nil, fmt.Errorf("risk %s of cluster %s: an accepted risk needs its reason, and only an accepted one has one", r.Risk, r.Cluster)
		}
		p.Risks = append(p.Risks, plan.RiskNote(r))
	}
	for _, ws := range []struct {
		in  []fileWarning
		out *[]plan.Warning
	}{{f.Warnings, &p.Warnings}, {f.Refusals, &p.Refusals}} {
		for _, w := range ws.in {
			if w.Step < 0 || w.Step > len(p.Steps) {
				return nil, fmt.Errorf("message %q refers to step %d of %d", w.Summary, w.Step, len(p.Steps))
			}
			*ws.out = append(*ws.out, plan.Warning{Cluster: w.Cluster, Member: w.Member, Step: w.Step, Summary: w.Summary, Detail: w.Detail})
		}
	}
	return p, nil
}

// checkAuth checks an auth step's fields: only auth steps carry them, and
// each carries what its action needs; a password source is an environment
// variable's name or an absolute path, never a value.
func checkAuth(s plan.Step) error {
	isAuth := s.Action.Info().Auth
	if !isAuth {
		if s.Auth != nil {
			return fmt.Errorf("a %s step may not carry auth fields", s.Action)
		}
		return nil
	}
	a := s.Auth
	if a == nil {
		a = &plan.AuthChange{}
	}
	needRole := s.Action == plan.AddRole || s.Action == plan.GrantPermission || s.Action == plan.RevokePermission ||
		s.Action == plan.GrantRole || s.Action == plan.RevokeRole
	needUser := s.Action == plan.AddUser || s.Action == plan.GrantRole || s.Action == plan.RevokeRole || s.Action == plan.SetPassword
	needPerm := s.Action == plan.GrantPermission || s.Action == plan.RevokePermission
	needPassword := s.Action == plan.SetPassword || (s.Action == plan.AddUser && !a.NoPassword)
	switch {
	case needRole != (a.Role != ""), needUser != (a.User != ""), needPerm != (a.Permission != nil),
		needPassword != (a.Password != nil), a.NoPassword && s.Action != plan.AddUser:
		return fmt.Errorf("a %s step has the wrong auth fields", s.Action)
	case needPerm && (a.Permission.Key == "" || (a.Permission.Type != "read" && a.Permission.Type != "write" && a.Permission.Type != "readwrite")):
		return fmt.Errorf("a %s step needs a key and a type of read, write or readwrite", s.Action)
	}
	if p := a.Password; p != nil {
		envOK := p.Env != "" && strings.Trim(p.Env, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == ""
		fileOK := strings.HasPrefix(p.File, "/")
		if envOK == fileOK || (p.Env != "" && p.File != "") {
			return fmt.Errorf("a %s step's password source must be an environment variable's name or an absolute path", s.Action)
		}
	}
	return nil
}

// releaseVersion reports whether v is a release version x.y.z of digits.
func releaseVersion(v string) bool {
	p := strings.Split(v, ".")
	if len(p) != 3 {
		return false
	}
	for _, x := range p {
		if x == "" || strings.Trim(x, "0123456789") != "" {
			return false
		}
	}
	return true
}
