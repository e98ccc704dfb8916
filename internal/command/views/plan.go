package views

import (
	"encoding/json"
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

// ---------------------------------------------------------------------------
// Shared helpers

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
	for _, k := range []struct {
		a         plan.Action
		one, many string
	}{
		{plan.Snapshot, "snapshot", "snapshots"},
		{plan.StartMember, "member start", "member starts"},
		{plan.AddLearner, "learner add", "learner adds"},
		{plan.Promote, "promotion", "promotions"},
		{plan.RemoveMember, "removal", "removals"},
		{plan.UploadFile, "file upload", "file uploads"},
		{plan.InstallBackupJob, "backup job change", "backup job changes"},
		{plan.WriteConfig, "config write", "config writes"},
		{plan.Restart, "restart", "restarts"},
	} {
		if n := counts[k.a]; n > 0 {
			parts = append(parts, plural(n, k.one, k.many))
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

// ---------------------------------------------------------------------------
// Human

// PlanHuman renders a plan for a terminal, Terraform-like: one symbol per
// action, the member, the reason, each change as before -> after, and the
// voters and tolerated failures of every step.
type PlanHuman struct {
	// Color enables ANSI colours; the command sets it when stdout is a
	// TTY and NO_COLOR is unset.
	Color bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
)

func (v *PlanHuman) paint(code, s string) string {
	if !v.Color {
		return s
	}
	return code + s + ansiReset
}

func actionColor(a plan.Action) string {
	switch a {
	case plan.AddLearner, plan.Promote, plan.StartMember:
		return ansiGreen
	case plan.RemoveMember:
		return ansiRed
	case plan.WriteConfig:
		return ansiYellow
	case plan.Restart:
		return ansiCyan
	}
	return ansiBlue
}

// Plan implements PlanView.
func (v *PlanHuman) Plan(w io.Writer, p *plan.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "etcdform plan%s\n", metaLine(p.Meta))
	if len(p.Steps) > 0 {
		legend := "S snapshot, > start, + add learner, ^ promote, - remove, ~ write config, R restart"
		for _, s := range p.Steps {
			if s.Action == plan.UploadFile {
				legend += ", U upload file"
				break
			}
		}
		for _, s := range p.Steps {
			if s.Action == plan.InstallBackupJob {
				legend += ", B backup job"
				break
			}
		}
		b.WriteString("\nSymbols: " + legend + "\n")
	}
	names, byCluster := stepsByCluster(p)
	for _, name := range names {
		idx := byCluster[name]
		fmt.Fprintf(&b, "\n%s %s", v.paint(ansiBold, "Cluster"), v.paint(ansiBold, name))
		if len(idx) == 0 {
			b.WriteString(": no changes\n")
		} else {
			fmt.Fprintf(&b, ": %s\n", plural(len(idx), "step", "steps"))
		}
		for _, i := range idx {
			s := p.Steps[i]
			sym := v.paint(actionColor(s.Action), string(rune(s.Action)))
			fmt.Fprintf(&b, "\n  %s %2d. %s\n", sym, i+1, v.paint(ansiBold, stepTitle(s)))
			if s.Reason != "" {
				fmt.Fprintf(&b, "        %s\n", s.Reason)
			}
			for _, c := range s.Changes {
				fmt.Fprintf(&b, "        %s: %s -> %s\n", c.Attr, v.paint(ansiRed, orDash(c.Before)), v.paint(ansiGreen, orDash(c.After)))
			}
			if n := jobNote(s); n != "" {
				fmt.Fprintf(&b, "        %s\n", n)
			}
			v.files(&b, s)
			fmt.Fprintf(&b, "        %s\n", v.paint(ansiDim, tolerance(s)))
			for _, r := range p.Refusals {
				if r.Step == i+1 {
					fmt.Fprintf(&b, "        %s\n", v.paint(ansiRed, "REFUSED: "+r.Summary))
				}
			}
		}
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintf(&b, "\n%s\n", v.paint(ansiYellow+ansiBold, "Warnings:"))
		for _, m := range p.Warnings {
			fmt.Fprintf(&b, "  %s %s: %s\n      %s\n", v.paint(ansiYellow, "!"), where(m), m.Summary, m.Detail)
		}
	}
	if len(p.Refusals) > 0 {
		fmt.Fprintf(&b, "\n%s\n", v.paint(ansiRed+ansiBold, "Refusals (apply will reject this plan):"))
		for _, m := range p.Refusals {
			fmt.Fprintf(&b, "  %s %s: %s\n      %s\n", v.paint(ansiRed, "x"), where(m), m.Summary, m.Detail)
		}
	}
	b.WriteString("\n")
	if len(p.Steps) == 0 && len(p.Refusals) == 0 {
		b.WriteString("No changes. The clusters match the configuration.\n")
	}
	b.WriteString(v.paint(ansiBold, summaryLine(p)) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// files renders what step s writes and removes on a host (stepFiles).
func (v *PlanHuman) files(b *strings.Builder, s plan.Step) {
	writes, other := stepFiles(s)
	for _, f := range writes {
		if !f.Changed {
			fmt.Fprintf(b, "        %s: unchanged\n", f.Title)
			continue
		}
		fmt.Fprintf(b, "        %s (%s):\n", f.Title, f.Note)
		for _, l := range f.Lines {
			code := ""
			switch l[0] {
			case '+':
				code = ansiGreen
			case '-':
				code = ansiRed
			case '@':
				code = ansiCyan
			}
			if code != "" {
				l = v.paint(code, l)
			}
			fmt.Fprintf(b, "          %s\n", l)
		}
	}
	for _, o := range other {
		fmt.Fprintf(b, "        %s\n", o)
	}
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
	if m.ToolVersion != "" {
		parts = append(parts, "etcdform "+m.ToolVersion)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// ---------------------------------------------------------------------------
// JSON

// PlanJSONVersion is the version of the JSON document PlanJSON writes; see
// docs/plan-json.md. Fields are only ever added within a major version.
const PlanJSONVersion = "2.1"

// PlanJSON renders the stable JSON document described in docs/plan-json.md.
type PlanJSON struct{}

type jsonPlan struct {
	FormatVersion string        `json:"format_version"`
	ToolVersion   string        `json:"tool_version"`
	Time          string        `json:"time,omitempty"`
	GitCommit     string        `json:"git_commit,omitempty"`
	Author        string        `json:"author,omitempty"`
	ConfigHash    string        `json:"config_hash,omitempty"`
	Changes       bool          `json:"changes"`
	Applicable    bool          `json:"applicable"`
	Summary       string        `json:"summary"`
	Clusters      []jsonCluster `json:"clusters"`
	Steps         []jsonStep    `json:"steps"`
	Warnings      []jsonMessage `json:"warnings"`
	Refusals      []jsonMessage `json:"refusals"`
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
		Changes:       p.HasChanges(),
		Applicable:    !p.HasRefusals(),
		Summary:       summaryLine(p),
		Clusters:      []jsonCluster{},
		Steps:         []jsonStep{},
		Warnings:      jsonMessages(p.Warnings),
		Refusals:      jsonMessages(p.Refusals),
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
		}
		if s.MemberID != 0 {
			js.MemberID = fmt.Sprintf("%x", s.MemberID)
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

// ---------------------------------------------------------------------------
// Markdown

// PlanMarkerLine is the first line of every Markdown rendering. A bot that
// posts plans finds its earlier comment by it and replaces that comment.
const PlanMarkerLine = "<!-- etcdform:plan -->"

// PlanMarkdown renders a plan for a merge-request comment: the marker line,
// a summary table, and a collapsible section per cluster.
type PlanMarkdown struct{}

// Plan implements PlanView.
func (v *PlanMarkdown) Plan(w io.Writer, p *plan.Plan) error {
	var b strings.Builder
	b.WriteString(PlanMarkerLine + "\n")
	b.WriteString("### etcdform plan\n\n")
	switch {
	case p.HasRefusals():
		fmt.Fprintf(&b, "> [!CAUTION]\n> This plan cannot be applied: %s.\n\n", plural(len(p.Refusals), "refusal", "refusals"))
	case !p.HasChanges():
		b.WriteString("No changes. The clusters match the configuration.\n\n")
	}
	fmt.Fprintf(&b, "**%s**\n\n", summaryLine(p))

	names, byCluster := stepsByCluster(p)
	b.WriteString("| Cluster | Steps | Membership | Config writes | Restarts | Lowest tolerance | Warnings | Refusals |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range names {
		var member, writes, restarts int
		for _, i := range byCluster[n] {
			s := p.Steps[i]
			switch s.Action {
			case plan.AddLearner, plan.Promote, plan.RemoveMember:
				member++
			case plan.WriteConfig:
				writes++
			case plan.Restart:
				restarts++
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %d | %d |\n", cell(n), len(byCluster[n]), member, writes, restarts,
			lowestTolerance(p, byCluster[n]), len(messagesFor(p.Warnings, n)), len(messagesFor(p.Refusals, n)))
	}
	b.WriteString("\n")

	for _, n := range names {
		idx := byCluster[n]
		fmt.Fprintf(&b, "<details><summary>Cluster <b>%s</b>: %s</summary>\n\n", htmlEscape(n), plural(len(idx), "step", "steps"))
		if len(idx) > 0 {
			b.WriteString("| # | | Step | Changes | Voters | Tolerates |\n")
			b.WriteString("|---:|---|---|---|---:|---:|\n")
			for _, i := range idx {
				s := p.Steps[i]
				var ch []string
				for _, c := range s.Changes {
					ch = append(ch, fmt.Sprintf("`%s`: %s → %s", cell(c.Attr), code(c.Before), code(c.After)))
				}
				title := "**" + cell(stepTitle(s)) + "**"
				if s.Reason != "" {
					title += "<br>" + cell(s.Reason)
				}
				if n := jobNote(s); n != "" {
					title += "<br>" + cell(n)
				}
				tol := fmt.Sprint(s.Tolerated)
				for _, r := range p.Refusals {
					if r.Step == i+1 {
						tol += " ⛔"
						break
					}
				}
				fmt.Fprintf(&b, "| %d | `%c` | %s | %s | %d | %s |\n", i+1, s.Action, title, strings.Join(ch, "<br>"), s.Voters, tol)
			}
			b.WriteString("\n")
			for _, i := range idx {
				markdownFiles(&b, i+1, p.Steps[i])
			}
		}
		for _, m := range messagesFor(p.Refusals, n) {
			fmt.Fprintf(&b, "- ⛔ **%s** (%s): %s\n", cell(m.Summary), cell(where(m)), cell(m.Detail))
		}
		for _, m := range messagesFor(p.Warnings, n) {
			fmt.Fprintf(&b, "- ⚠️ **%s** (%s): %s\n", cell(m.Summary), cell(where(m)), cell(m.Detail))
		}
		b.WriteString("\n</details>\n\n")
	}
	if meta := metaLine(p.Meta); meta != "" {
		fmt.Fprintf(&b, "<sub>Planned%s.</sub>\n", strings.TrimSuffix(strings.Replace(meta, " (", " ", 1), ")"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownFiles renders what step number n writes and removes on a host
// (stepFiles) as a collapsed section with a diff block per file.
func markdownFiles(b *strings.Builder, n int, s plan.Step) {
	writes, other := stepFiles(s)
	if len(writes) == 0 && len(other) == 0 {
		return
	}
	fmt.Fprintf(b, "<details><summary>Step %d, %s: files</summary>\n\n", n, htmlEscape(stepTitle(s)))
	for _, f := range writes {
		if !f.Changed {
			fmt.Fprintf(b, "`%s`: unchanged\n\n", cell(f.Title))
			continue
		}
		fmt.Fprintf(b, "`%s` (%s):\n\n", cell(f.Title), cell(f.Note))
		body := strings.Join(f.Lines, "\n")
		fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
		fmt.Fprintf(b, "%sdiff\n%s\n%s\n\n", fence, body, fence)
	}
	for _, o := range other {
		fmt.Fprintf(b, "- %s\n", cell(o))
	}
	if len(other) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("</details>\n\n")
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

func lowestTolerance(p *plan.Plan, idx []int) string {
	if len(idx) == 0 {
		return "-"
	}
	low := p.Steps[idx[0]].Tolerated
	for _, i := range idx[1:] {
		low = min(low, p.Steps[i].Tolerated)
	}
	return fmt.Sprint(low)
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = htmlEscape(s)
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", "<br>")
}

func code(s string) string {
	if s == "" {
		return "–"
	}
	return "`" + strings.ReplaceAll(cell(s), "`", "'") + "`"
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
