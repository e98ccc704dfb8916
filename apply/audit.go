package apply

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"
)

// AuditEntry is one line of the audit record. It never holds secrets: only
// names, actions, times and outcomes.
type AuditEntry struct {
	Kind      string    `json:"kind"` // apply-start, lock, stale, hashkv, step, record, apply-end
	Time      time.Time `json:"time,omitzero"`
	PlanHash  string    `json:"plan_hash,omitempty"`
	GitCommit string    `json:"git_commit,omitempty"`
	Author    string    `json:"author,omitempty"`
	// Approver, PipelineURL and JobURL say who started the apply (in CI:
	// who pressed the manual apply job) and where (apply-start).
	Approver    string `json:"approver,omitempty"`
	PipelineURL string `json:"pipeline_url,omitempty"`
	JobURL      string `json:"job_url,omitempty"`
	// Seq, Hash and Prev are those of the cluster's in-cluster chain
	// record this apply wrote (record): the file holds the link too.
	Seq     int       `json:"seq,omitempty"`
	Hash    string    `json:"hash,omitempty"`
	Prev    *string   `json:"prev,omitempty"`
	Cluster string    `json:"cluster,omitempty"`
	Step    int       `json:"step,omitempty"`
	Action  string    `json:"action,omitempty"`
	Member  string    `json:"member,omitempty"`
	Start   time.Time `json:"start,omitzero"`
	End     time.Time `json:"end,omitzero"`
	Outcome string    `json:"outcome,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// Audit writes JSON lines to a file and keeps what it wrote for the compact
// in-cluster summary. A nil *Audit records nothing.
type Audit struct {
	PlanHash  string
	GitCommit string
	Author    string
	// Approver, PipelineURL and JobURL: see AuditEntry.
	Approver    string
	PipelineURL string
	JobURL      string

	mu      sync.Mutex
	w       io.Writer
	entries []AuditEntry
	err     error
}

// NewAudit returns an Audit writing to w (which may be nil).
func NewAudit(w io.Writer, planHash, commit, author string) *Audit {
	return &Audit{w: w, PlanHash: planHash, GitCommit: commit, Author: author}
}

// Record appends e.
func (a *Audit) Record(e AuditEntry) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.Kind == "apply-start" {
		e.PlanHash, e.GitCommit, e.Author = a.PlanHash, a.GitCommit, a.Author
		e.Approver, e.PipelineURL, e.JobURL = a.Approver, a.PipelineURL, a.JobURL
	}
	a.entries = append(a.entries, e)
	if a.w != nil && a.err == nil {
		line, err := json.Marshal(e)
		if err == nil {
			_, err = a.w.Write(append(line, '\n'))
		}
		a.err = err
	}
}

// Err returns the first write error.
func (a *Audit) Err() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Entries returns a copy of what was recorded.
func (a *Audit) Entries() []AuditEntry {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AuditEntry(nil), a.entries...)
}

// Summary is the compact in-cluster record for one cluster: the plan hash,
// commit, author, and each step with its times and outcome.
type Summary struct {
	PlanHash  string        `json:"plan_hash"`
	GitCommit string        `json:"git_commit,omitempty"`
	Author    string        `json:"author,omitempty"`
	Cluster   string        `json:"cluster"`
	Steps     []SummaryStep `json:"steps"`
}

// SummaryStep is one step in a Summary.
type SummaryStep struct {
	N       int       `json:"n"`
	Action  string    `json:"action"`
	Member  string    `json:"member,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Outcome string    `json:"outcome"`
}

// ChainRecord is the in-cluster chain record of cluster's apply, with
// outcome ("success", "failed: ..."); AppendAudit sets Seq and Prev.
func (a *Audit) ChainRecord(cluster string, t time.Time, outcome string) ChainRecord {
	r := ChainRecord{Time: t.UTC(), Cluster: cluster, Outcome: outcome, Steps: []SummaryStep{}}
	if a != nil {
		r.PlanHash, r.GitCommit, r.Author = a.PlanHash, a.GitCommit, a.Author
		r.Approver, r.PipelineURL, r.JobURL = a.Approver, a.PipelineURL, a.JobURL
		for _, e := range a.Entries() {
			if e.Kind == "step" && e.Cluster == cluster {
				r.Steps = append(r.Steps, SummaryStep{N: e.Step, Action: e.Action, Member: e.Member, Start: e.Start, End: e.End, Outcome: e.Outcome})
			}
		}
	}
	return r
}

// Summary renders the compact record for cluster as JSON (the record of
// an etcdform before the chain; Chain lists such records as legacy).
func (a *Audit) Summary(cluster string) []byte {
	s := Summary{Cluster: cluster}
	if a != nil {
		s.PlanHash, s.GitCommit, s.Author = a.PlanHash, a.GitCommit, a.Author
		for _, e := range a.Entries() {
			if e.Kind == "step" && e.Cluster == cluster {
				s.Steps = append(s.Steps, SummaryStep{N: e.Step, Action: e.Action, Member: e.Member, Start: e.Start, End: e.End, Outcome: e.Outcome})
			}
		}
	}
	data, err := json.Marshal(s)
	if err != nil {
		panic(err) // plain types only
	}
	return data
}

// AuditPrefix is the key prefix of in-cluster audit records.
const AuditPrefix = "/etcdform/audit/"

// AuditKey is the in-cluster key of an apply's audit summary.
func AuditKey(cluster string, t time.Time) string {
	return fmt.Sprintf("%s%s/%s", AuditPrefix, cluster, t.UTC().Format("20060102T150405.000000000Z"))
}

func portOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Port()
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.Trim(p.Hostname(), "[]")
}
