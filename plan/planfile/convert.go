package planfile

// Conversion between the plan and its serialized form (types.go), with
// the checks a read plan must pass.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/etcdform/etcdform/internal/backupjob"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/providers/backupstore"
	"github.com/etcdform/etcdform/state"
)

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
