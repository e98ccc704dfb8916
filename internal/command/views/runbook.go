package views

import (
	"fmt"
	"strings"

	"github.com/etcdform/etcdform/plan"
)

// runbook writes, for cluster n whose steps are idx, the recovery runbook
// of the Markdown view when one of those steps is a recovery action
// (ActionInfo.Recovery): for someone on call, every step in apply's order
// in plain words (ActionInfo.Does) with the host it runs on, after the
// cluster's warnings in bold, which say what the recovery loses.
func runbook(b *strings.Builder, p *plan.Plan, n string, idx []int) {
	recovery := false
	for _, i := range idx {
		if p.Steps[i].Action.Info().Recovery {
			recovery = true
			break
		}
	}
	if !recovery {
		return
	}
	fmt.Fprintf(b, "#### Recovery runbook: cluster %s\n\n", cell(n))
	if ws := messagesFor(p.Warnings, n); len(ws) > 0 {
		b.WriteString("Read this first:\n\n")
		for _, w := range ws {
			fmt.Fprintf(b, "- **%s: %s**\n", cell(w.Summary), cell(w.Detail))
		}
		b.WriteString("\n")
	}
	if rs := messagesFor(p.Refusals, n); len(rs) > 0 {
		fmt.Fprintf(b, "This plan cannot be applied as it is (%s, listed below the steps).\n\n", plural(len(rs), "refusal", "refusals"))
	}
	b.WriteString("What `etcdform apply` does, in this order. It stops at the first step that fails and runs nothing after it; plan again (with the same flags) to go on from where it stopped.\n\n")
	for k, i := range idx {
		s := p.Steps[i]
		on := ""
		if s.Target != nil && s.Target.Host.Host != "" {
			on = " on " + s.Target.Host.Host
		}
		fmt.Fprintf(b, "%d. **%s**%s: %s", k+1, cell(stepTitle(s)), cell(on), cell(s.Action.Info().Does))
		if s.Reason != "" {
			fmt.Fprintf(b, " _Why:_ %s", cell(s.Reason))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nNothing is deleted: every data dir moved aside stays on its host as `member.removed-<UTC time>` until you remove it. " +
		"When apply ends, every member is healthy and `etcdform plan` of the same configuration shows no change.\n\n")
}
