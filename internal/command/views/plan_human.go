package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/etcdform/etcdform/plan"
)

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

// effectColors colours an action's symbol by its effect.
var effectColors = map[plan.Effect]string{
	plan.EffectOther:   ansiBlue,
	plan.EffectAdd:     ansiGreen,
	plan.EffectRemove:  ansiRed,
	plan.EffectConfig:  ansiYellow,
	plan.EffectRestart: ansiCyan,
}

func actionColor(a plan.Action) string { return effectColors[a.Info().Effect] }

// legend says what the symbols of the plan's steps stand for, in the order
// of the actions table: "S snapshot, ~ write config, R restart".
func legend(p *plan.Plan) string {
	has := map[plan.Action]bool{}
	for _, s := range p.Steps {
		has[s.Action] = true
	}
	var parts []string
	for _, a := range plan.Actions() {
		if has[a.Action] {
			parts = append(parts, string(rune(a.Action))+" "+a.Legend)
		}
	}
	return strings.Join(parts, ", ")
}

// Plan implements PlanView.
func (v *PlanHuman) Plan(w io.Writer, p *plan.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "etcdform plan%s\n", metaLine(p.Meta))
	if len(p.Steps) > 0 {
		b.WriteString("\nSymbols: " + legend(p) + "\n")
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
	if len(p.Risks) > 0 {
		fmt.Fprintf(&b, "\n%s\n", v.paint(ansiBold, "Risks kept (settings the operator guides call dangerous; docs/language.md#accept_risk):"))
		for _, r := range p.Risks {
			if r.Accepted {
				fmt.Fprintf(&b, "  %s %s: %s [%s], accepted at %s\n      reason: %s\n", v.paint(ansiDim, "="), r.Cluster, r.Summary, r.Risk, r.Source, r.Reason)
				continue
			}
			fmt.Fprintf(&b, "  %s %s: %s [%s] at %s\n      not accepted: validate --strict and plan --strict refuse it. %s\n", v.paint(ansiYellow, "!"), r.Cluster, r.Summary, r.Risk, r.Source, r.Detail)
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
		b.WriteString(noChanges(p) + "\n")
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
