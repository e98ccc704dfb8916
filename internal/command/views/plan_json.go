package views

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/etcdform/etcdform/plan"
)

// PlanJSONVersion is the version of the JSON document PlanJSON writes; see
// docs/plan-json.md. Fields are only ever added within a major version.
const PlanJSONVersion = "2.10"

// PlanJSON renders the stable JSON document described in docs/plan-json.md.
type PlanJSON struct{}

type jsonPlan struct {
	FormatVersion string   `json:"format_version"`
	ToolVersion   string   `json:"tool_version"`
	Time          string   `json:"time,omitempty"`
	GitCommit     string   `json:"git_commit,omitempty"`
	Author        string   `json:"author,omitempty"`
	ConfigHash    string   `json:"config_hash,omitempty"`
	Only          string   `json:"only,omitempty"`
	Selection     []string `json:"selection,omitempty"`
	Recover       bool     `json:"recover,omitempty"` // version 2.7
	// RestoreFrom is the snapshot ID a plan --restore-from plan restores
	// (version 2.8).
	RestoreFrom string        `json:"restore_from,omitempty"`
	Changes     bool          `json:"changes"`
	Applicable  bool          `json:"applicable"`
	Summary     string        `json:"summary"`
	Clusters    []jsonCluster `json:"clusters"`
	Steps       []jsonStep    `json:"steps"`
	Warnings    []jsonMessage `json:"warnings"`
	Refusals    []jsonMessage `json:"refusals"`
	Risks       []jsonRisk    `json:"risks"`
}

// jsonRisk is a dangerous setting a cluster keeps (plan.RiskNote).
type jsonRisk struct {
	Cluster  string `json:"cluster"`
	Risk     string `json:"risk"`
	Summary  string `json:"summary"`
	Source   string `json:"source"`
	Accepted bool   `json:"accepted"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail"`
}

type jsonCluster struct {
	Name  string `json:"name"`
	Steps []int  `json:"steps"`
}

type jsonStep struct {
	Index    int          `json:"index"`
	Action   string       `json:"action"`
	Symbol   string       `json:"symbol"`
	Cluster  string       `json:"cluster"`
	Member   string       `json:"member"`
	MemberID string       `json:"member_id"`
	PeerURL  string       `json:"peer_url,omitempty"`
	Leader   bool         `json:"leader"`
	HostDown bool         `json:"host_down"`
	Reason   string       `json:"reason"`
	Changes  []jsonChange `json:"changes"`
	Config   string       `json:"config,omitempty"`
	// ConfigObserved is the config file on the host that Config
	// replaces (write-config; absent when the host has none).
	ConfigObserved string       `json:"config_observed,omitempty"`
	Voters         int          `json:"voters"`
	Quorum         int          `json:"quorum"`
	Tolerated      int          `json:"tolerated"`
	Refused        bool         `json:"refused"`
	Uploads        []jsonUpload `json:"uploads,omitempty"`
	Job            *jsonJob     `json:"job,omitempty"`
	// Revision is a compact step's revision, Alarm a disarm-alarm step's
	// alarm type.
	Revision int64  `json:"revision,omitempty"`
	Alarm    string `json:"alarm,omitempty"`
	// Quota is the quota a NOSPACE disarm-alarm step checks the DB sizes
	// against before it disarms (version 2.4).
	Quota int64 `json:"quota,omitempty"`
	// Version is the etcd version of a downgrade-validate,
	// downgrade-enable or wait-cluster-version step (version 2.9).
	Version string `json:"version,omitempty"`
	// Auth is what an auth step changes (version 2.6): names, a key
	// range and a password's source, never a password.
	Auth *jsonAuth `json:"auth,omitempty"`
	// Backup is the snapshot of a fetch-backup or restore-member step
	// (version 2.8).
	Backup *jsonBackup `json:"backup,omitempty"`
}

type jsonAuth struct {
	Role           string          `json:"role,omitempty"`
	User           string          `json:"user,omitempty"`
	Permission     *jsonPermission `json:"permission,omitempty"`
	PasswordSource string          `json:"password_source,omitempty"`
	NoPassword     bool            `json:"no_password,omitempty"`
}

type jsonPermission struct {
	Type     string `json:"type"`
	Key      string `json:"key"`
	RangeEnd string `json:"range_end,omitempty"`
}

// jsonBackup is the backup snapshot a restore fetches and restores, as
// its record at the destination describes it.
type jsonBackup struct {
	Destination string `json:"destination"`
	ID          string `json:"id"`
	Object      string `json:"object"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	Encrypted   bool   `json:"encrypted"`
	Recipient   string `json:"recipient,omitempty"`
	Time        string `json:"time"`
	// AgeSeconds is how old the snapshot was when the plan was made.
	AgeSeconds  int64  `json:"age_seconds"`
	Revision    int64  `json:"revision"`
	KeyCount    int64  `json:"key_count"`
	EtcdVersion string `json:"etcd_version,omitempty"`
}

// jsonJob is what an install-backup-job step does to the job's files.
type jsonJob struct {
	Scheduler  string     `json:"scheduler,omitempty"`
	StopTimers []string   `json:"stop_timers,omitempty"`
	Remove     []string   `json:"remove,omitempty"`
	Write      []jsonFile `json:"write,omitempty"`
	Timer      string     `json:"timer,omitempty"`
	Run        bool       `json:"run,omitempty"`
}

type jsonFile struct {
	Path     string `json:"path"`
	Content  string `json:"content"`
	Observed string `json:"observed,omitempty"` // the file on the host it replaces
}

// jsonUpload is one file of an upload-file step: never its bytes.
type jsonUpload struct {
	Role   string `json:"role"`
	Path   string `json:"path"`
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	Mode   string `json:"mode"`
}

type jsonChange struct {
	Attr   string `json:"attr"`
	Before string `json:"before"`
	After  string `json:"after"`
}

type jsonMessage struct {
	Cluster string `json:"cluster"`
	Member  string `json:"member"`
	Step    int    `json:"step"`
	Summary string `json:"summary"`
	Detail  string `json:"detail"`
}

// Plan implements PlanView.
func (v *PlanJSON) Plan(w io.Writer, p *plan.Plan) error {
	doc := jsonPlan{
		FormatVersion: PlanJSONVersion,
		ToolVersion:   p.Meta.ToolVersion,
		GitCommit:     p.Meta.GitCommit,
		Author:        p.Meta.Author,
		ConfigHash:    p.Meta.ConfigHash,
		Only:          p.Meta.Only,
		Selection:     p.Meta.Selection,
		Recover:       p.Meta.Recover,
		RestoreFrom:   p.Meta.RestoreFrom,
		Changes:       p.HasChanges(),
		Applicable:    !p.HasRefusals(),
		Summary:       summaryLine(p),
		Clusters:      []jsonCluster{},
		Steps:         []jsonStep{},
		Warnings:      jsonMessages(p.Warnings),
		Refusals:      jsonMessages(p.Refusals),
		Risks:         []jsonRisk{},
	}
	for _, r := range p.Risks {
		doc.Risks = append(doc.Risks, jsonRisk(r))
	}
	if !p.Meta.Time.IsZero() {
		doc.Time = p.Meta.Time.UTC().Format(time.RFC3339)
	}
	names, byCluster := stepsByCluster(p)
	for _, n := range names {
		c := jsonCluster{Name: n, Steps: []int{}}
		for _, i := range byCluster[n] {
			c.Steps = append(c.Steps, i+1)
		}
		doc.Clusters = append(doc.Clusters, c)
	}
	refused := map[int]bool{}
	for _, r := range p.Refusals {
		refused[r.Step] = true
	}
	for i, s := range p.Steps {
		js := jsonStep{
			Index: i + 1, Action: s.Action.String(), Symbol: string(rune(s.Action)), Cluster: s.Cluster,
			Member: s.Member, PeerURL: s.PeerURL, Leader: s.Leader, HostDown: s.HostDown, Reason: s.Reason,
			Changes: []jsonChange{}, Config: string(s.Config), ConfigObserved: string(s.ConfigObserved),
			Voters: s.Voters, Quorum: s.Voters/2 + 1, Tolerated: s.Tolerated, Refused: refused[i+1],
			Revision: s.Revision, Alarm: s.Alarm, Quota: s.Quota, Version: s.Version,
		}
		if s.MemberID != 0 {
			js.MemberID = fmt.Sprintf("%x", s.MemberID)
		}
		if a := s.Auth; a != nil {
			js.Auth = &jsonAuth{Role: a.Role, User: a.User, NoPassword: a.NoPassword}
			if a.Permission != nil {
				js.Auth.Permission = &jsonPermission{Type: a.Permission.Type, Key: a.Permission.Key, RangeEnd: a.Permission.RangeEnd}
			}
			if a.Password != nil {
				js.Auth.PasswordSource = a.Password.String()
			}
		}
		for _, u := range s.Uploads {
			js.Uploads = append(js.Uploads, jsonUpload{Role: u.Role, Path: u.Path, Source: u.Source, SHA256: u.SHA256, Mode: fmt.Sprintf("%04o", u.Mode)})
		}
		if j := s.Job; j != nil {
			js.Job = &jsonJob{Scheduler: j.Scheduler, StopTimers: j.StopTimers, Remove: j.Remove, Timer: j.Timer, Run: j.Run}
			for _, f := range j.Write {
				js.Job.Write = append(js.Job.Write, jsonFile{Path: f.Path, Content: string(f.Content), Observed: string(f.Observed)})
			}
		}
		if b := s.Backup; b != nil {
			js.Backup = &jsonBackup{Destination: b.Destination, ID: b.ID, Object: b.Object, SHA256: b.SHA256, Size: b.Size,
				Encrypted: b.Encrypted, Recipient: b.Recipient, Time: b.Time.UTC().Format(time.RFC3339), Revision: b.Revision,
				KeyCount: b.KeyCount, EtcdVersion: b.EtcdVersion}
			if !p.Meta.Time.IsZero() {
				js.Backup.AgeSeconds = int64(p.Meta.Time.Sub(b.Time).Seconds())
			}
		}
		for _, c := range s.Changes {
			js.Changes = append(js.Changes, jsonChange(c))
		}
		doc.Steps = append(doc.Steps, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func jsonMessages(ws []plan.Warning) []jsonMessage {
	out := []jsonMessage{}
	for _, m := range ws {
		out = append(out, jsonMessage{Cluster: m.Cluster, Member: m.Member, Step: m.Step, Summary: m.Summary, Detail: m.Detail})
	}
	return out
}
