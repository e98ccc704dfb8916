package views

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/etcdform/etcdform/plan"
)

// PlanMarkerLine is the first line of every Markdown rendering. A bot that
// posts plans finds its earlier comment by it and replaces that comment.
const PlanMarkerLine = "<!-- etcdform:plan -->"

// PlanSectionsMarkerLine is the first line of the comment per-cluster CI
// jobs share (`etcdform comment --section`), PlanSectionsTitle the line
// after it.
const (
	PlanSectionsMarkerLine = "<!-- etcdform:plans -->"
	PlanSectionsTitle      = "## etcdform plans, one section per cluster"
)

// PlanSection turns a PlanMarkdown rendering into the section of cluster
// in the shared comment: without the marker line, titled with the
// cluster.
func PlanSection(markdown, cluster string) string {
	md := strings.TrimPrefix(markdown, PlanMarkerLine+"\n")
	return strings.Replace(md, "### etcdform plan\n", "### etcdform plan: cluster "+cell(cluster)+"\n", 1)
}

// SummaryLine is the plan's one-line summary ("Plan: 3 config writes, 3
// restarts; 0 refusals.").
func SummaryLine(p *plan.Plan) string { return summaryLine(p) }

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
		b.WriteString(noChanges(p) + "\n\n")
	}
	fmt.Fprintf(&b, "**%s**\n\n", summaryLine(p))

	names, byCluster := stepsByCluster(p)
	b.WriteString("| Cluster | Steps | Membership | Config writes | Restarts | Lowest tolerance | Warnings | Refusals |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range names {
		var member, writes, restarts int
		for _, i := range byCluster[n] {
			s := p.Steps[i]
			info := s.Action.Info()
			if info.Tolerance == plan.ToleranceMembership {
				member++
			}
			if info.Effect == plan.EffectConfig {
				writes++
			}
			if info.Effect == plan.EffectRestart {
				restarts++
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %d | %d |\n", cell(n), len(byCluster[n]), member, writes, restarts,
			lowestTolerance(p, byCluster[n]), len(messagesFor(p.Warnings, n)), len(messagesFor(p.Refusals, n)))
	}
	b.WriteString("\n")
	markdownRisks(&b, p.Risks)

	for _, n := range names {
		runbook(&b, p, n, byCluster[n])
	}
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

// markdownRisks renders the dangerous settings the clusters keep as a
// table outside the collapsed sections, so a reviewer sees each accepted
// risk and its reason without opening anything.
func markdownRisks(b *strings.Builder, risks []plan.RiskNote) {
	if len(risks) == 0 {
		return
	}
	b.WriteString("**Risks kept** (settings the operator guides call dangerous):\n\n")
	b.WriteString("| Cluster | Risk | Accepted | Reason | Source |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, r := range risks {
		acc, reason := "⚠️ no: `--strict` refuses it", "—"
		if r.Accepted {
			acc, reason = "yes", cell(r.Reason)
		}
		fmt.Fprintf(b, "| %s | `%s` %s | %s | %s | %s |\n", cell(r.Cluster), cell(r.Risk), cell(r.Summary), acc, reason, code(r.Source))
	}
	b.WriteString("\n")
	for _, r := range risks {
		if !r.Accepted && r.Detail != "" {
			fmt.Fprintf(b, "- ⚠️ **%s** (%s, `%s`): %s\n", cell(r.Summary), cell(r.Cluster), cell(r.Risk), cell(r.Detail))
		}
	}
	if slices.ContainsFunc(risks, func(r plan.RiskNote) bool { return !r.Accepted && r.Detail != "" }) {
		b.WriteString("\n")
	}
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
