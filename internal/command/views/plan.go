package views

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/etcdform/etcdform/plan"
)

// PlanView renders a plan. The implementations only print: exit codes and
// the decision to render belong to the command.
type PlanView interface {
	// Plan writes p to w. It returns the writer's error, if any.
	Plan(w io.Writer, p *plan.Plan) error
}

var (
	_ PlanView = (*PlanHuman)(nil)
	_ PlanView = (*PlanJSON)(nil)
	_ PlanView = (*PlanMarkdown)(nil)
)

// PlanFormat selects a PlanView.
type PlanFormat int

const (
	PlanFormatHuman PlanFormat = iota
	PlanFormatJSON
	PlanFormatMarkdown
)

// NewPlanView returns the view for format. color only affects the human
// view; the command sets it from the TTY and NO_COLOR.
func NewPlanView(format PlanFormat, color bool) PlanView {
	switch format {
	case PlanFormatJSON:
		return &PlanJSON{}
	case PlanFormatMarkdown:
		return &PlanMarkdown{}
	default:
		return &PlanHuman{Color: color}
	}
}

// stepsByCluster groups step indexes (0-based) by cluster, in p.Clusters
// order, then any cluster only the steps name.
func stepsByCluster(p *plan.Plan) (names []string, steps map[string][]int) {
	steps = map[string][]int{}
	seen := map[string]bool{}
	for _, n := range p.Clusters {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for i, s := range p.Steps {
		if !seen[s.Cluster] {
			seen[s.Cluster] = true
			names = append(names, s.Cluster)
		}
		steps[s.Cluster] = append(steps[s.Cluster], i)
	}
	return names, steps
}

// summaryLine is "Plan: 1 snapshot, 3 config writes, 3 restarts; 0 refusals."
func summaryLine(p *plan.Plan) string {
	counts := map[plan.Action]int{}
	for _, s := range p.Steps {
		counts[s.Action]++
	}
	var parts []string
	for _, a := range plan.Actions() {
		if n := counts[a.Action]; n > 0 {
			parts = append(parts, plural(n, a.One, a.Many))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no changes"}
	}
	return fmt.Sprintf("Plan: %s; %s.", strings.Join(parts, ", "), plural(len(p.Refusals), "refusal", "refusals"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func tolerance(s plan.Step) string {
	if s.Tolerated < 0 {
		return fmt.Sprintf("%d voters, quorum LOST", s.Voters)
	}
	return fmt.Sprintf("%d voters, tolerates %s", s.Voters, plural(s.Tolerated, "failure", "failures"))
}

func stepTitle(s plan.Step) string {
	t := s.Action.String()
	switch {
	case s.Member != "":
		t += " " + s.Member
	case s.MemberID != 0:
		t += fmt.Sprintf(" %x", s.MemberID)
	}
	if s.Leader {
		t += " (leader)"
	}
	return t
}

func shortID(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func messagesFor(ws []plan.Warning, cluster string) []plan.Warning {
	var out []plan.Warning
	for _, w := range ws {
		if w.Cluster == cluster {
			out = append(out, w)
		}
	}
	return out
}

func where(w plan.Warning) string {
	s := w.Cluster
	if w.Member != "" {
		s += "/" + w.Member
	}
	if w.Step > 0 {
		s += fmt.Sprintf(" (step %d)", w.Step)
	}
	return s
}

// jobNote says what an install-backup-job step does beyond its changes:
// the scheduler it installs under, and the backup it takes now.
func jobNote(s plan.Step) string {
	j := s.Job
	if j == nil || len(j.Write) == 0 {
		return ""
	}
	n := "as a cron.d job"
	if j.Timer != "" {
		n = "as systemd timer " + j.Timer
	}
	if j.Run {
		n += "; apply then runs the job once (a backup is taken now)"
	}
	return n
}

// noChanges is what a plan without steps says: a reduced plan (plan
// --only) does not claim that the clusters match the configuration.
func noChanges(p *plan.Plan) string {
	if o := p.Meta.Only; o != "" {
		return fmt.Sprintf("No %s steps to apply (--only %s). Other pending work, if any, is listed in the warnings.", o, o)
	}
	if sel := p.Meta.Selection; len(sel) > 0 {
		return fmt.Sprintf("No changes. The selected clusters (%s) match the configuration.", strings.Join(sel, ", "))
	}
	return "No changes. The clusters match the configuration."
}

func metaLine(m plan.Meta) string {
	var parts []string
	if !m.Time.IsZero() {
		parts = append(parts, "at "+m.Time.UTC().Format(time.RFC3339))
	}
	if m.Author != "" {
		parts = append(parts, "by "+m.Author)
	}
	if m.GitCommit != "" {
		parts = append(parts, "commit "+shortID(m.GitCommit))
	}
	if m.ConfigHash != "" {
		parts = append(parts, "config "+shortID(m.ConfigHash))
	}
	if m.Only != "" {
		parts = append(parts, "--only "+m.Only)
	}
	if len(m.Selection) > 0 {
		parts = append(parts, "--cluster "+strings.Join(m.Selection, ", "))
	}
	if m.ToolVersion != "" {
		parts = append(parts, "etcdform "+m.ToolVersion)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
