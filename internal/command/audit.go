package command

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/command/arguments"
	"github.com/etcdform/etcdform/internal/connect"
	"github.com/etcdform/etcdform/plan"
)

func init() {
	register("audit", "List each cluster's apply history from its in-cluster audit chain; --verify checks every link", runAudit)
}

// auditCluster is one cluster's history as `audit --json` prints it.
type auditCluster struct {
	Cluster  string              `json:"cluster"`
	Records  []auditRecord       `json:"records"`
	Summary  *apply.AuditSummary `json:"summary,omitempty"`
	Verified bool                `json:"verified"`
	Broken   string              `json:"broken,omitempty"`
	Error    string              `json:"error,omitempty"`
}

type auditRecord struct {
	Key    string            `json:"key"`
	Hash   string            `json:"hash,omitempty"`
	Legacy bool              `json:"legacy,omitempty"`
	Record apply.ChainRecord `json:"record"`
}

func runAudit(ctx context.Context, env *Env, args []string) int {
	a, fs, err := arguments.ParseAudit(args)
	if code, done := argError(env, fs, err); done {
		return code
	}
	cfg, ok := loadConfig(env, a.Path, a.Vars, a.VarFiles)
	if !ok {
		return 1
	}
	if cfg, ok = selectClusters(env, cfg, a.Clusters); !ok {
		return 1
	}
	conn := connect.Connector{Config: cfg}
	var out []auditCluster
	failed := false
	for _, c := range cfg.Clusters {
		ac := auditCluster{Cluster: c.Name, Records: []auditRecord{}}
		kvs, err := auditRecords(ctx, env, conn, plan.ClusterTargetOf(c), a)
		if err != nil {
			ac.Error = err.Error()
			failed = true
			out = append(out, ac)
			continue
		}
		entries, summary, brk := apply.Chain(kvs)
		ac.Summary = summary
		for _, e := range entries {
			ac.Records = append(ac.Records, auditRecord{Key: e.Key, Hash: e.Hash, Legacy: e.Legacy, Record: e.Record})
		}
		ac.Verified = brk == nil
		if brk != nil {
			ac.Broken = brk.Error()
			if a.Verify {
				failed = true
			}
		}
		out = append(out, ac)
	}
	if a.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Clusters []auditCluster `json:"clusters"`
		}{out})
	} else {
		for _, ac := range out {
			printAuditCluster(env, ac, a.Verify)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// auditRecords reads cluster ct's records (env.AuditRecords in tests).
func auditRecords(ctx context.Context, env *Env, conn connect.Connector, ct plan.ClusterTarget, a *arguments.Audit) ([]apply.AuditKV, error) {
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	if env.AuditRecords != nil {
		return env.AuditRecords(ctx, ct.Name)
	}
	etcd, err := conn.Etcd(ctx, ct)
	if err != nil {
		return nil, err
	}
	defer etcd.Close()
	return etcd.AuditRecords(ctx, ct.Name)
}

func printAuditCluster(env *Env, ac auditCluster, verify bool) {
	w := env.Stdout
	if ac.Error != "" {
		fmt.Fprintf(w, "Cluster %s: cannot read its audit records: %s\n\n", ac.Cluster, ac.Error)
		printError(env, "cluster %s: %s", ac.Cluster, ac.Error)
		return
	}
	head := fmt.Sprintf("Cluster %s: %s", ac.Cluster, countOf(len(ac.Records), "record", "records"))
	if ac.Broken != "" {
		head += " read before the break"
	}
	if s := ac.Summary; s != nil {
		var outcomes []string
		for k, v := range s.Outcomes {
			outcomes = append(outcomes, fmt.Sprintf("%d %s", v, k))
		}
		head += fmt.Sprintf(", after %d older ones folded into its summary (%s to %s: %s)", s.Count,
			s.First.UTC().Format("2006-01-02T15:04:05Z"), s.Last.UTC().Format("2006-01-02T15:04:05Z"), strings.Join(outcomes, ", "))
	}
	fmt.Fprintln(w, head)
	for _, r := range ac.Records {
		rec := r.Record
		if r.Legacy {
			fmt.Fprintf(w, "  (legacy) %s  by %s  commit %s  %d steps  (written before the audit chain: not verified)\n",
				r.Key, orDash(rec.Author), orDash(shortCommit(rec.GitCommit)), len(rec.Steps))
			continue
		}
		fmt.Fprintf(w, "  #%d %s  approved by %s, planned by %s  commit %s  %d steps  %s\n", rec.Seq,
			rec.Time.UTC().Format("2006-01-02T15:04:05Z"), orDash(rec.Approver), orDash(rec.Author), orDash(shortCommit(rec.GitCommit)), len(rec.Steps), firstLine(rec.Outcome))
		if rec.JobURL != "" {
			fmt.Fprintf(w, "      job %s\n", rec.JobURL)
		}
	}
	switch {
	case ac.Broken != "":
		fmt.Fprintf(w, "  %s\n", ac.Broken)
		if verify {
			printError(env, "cluster %s: %s", ac.Cluster, ac.Broken)
		}
	case verify:
		fmt.Fprintf(w, "  Verified: every record matches its hash and links to the one before it.\n")
	}
	fmt.Fprintln(w)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
