package plan

import (
	"fmt"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"

	"github.com/etcdform/etcdform/schema"
)

// riskNotes lists the dangerous settings cluster c keeps (schema's
// safe-default findings), accepted or not, for the plan's reviewers. dir
// is the configuration directory the sources are named relative to.
func riskNotes(dir string, c *schema.Cluster) []RiskNote {
	var out []RiskNote
	for _, f := range c.Risks {
		n := RiskNote{Cluster: c.Name, Risk: string(f.Risk), Summary: f.Summary, Source: sourceOf(dir, f.Subject), Detail: f.Detail}
		if a := f.Accepted; a != nil {
			n.Accepted, n.Reason, n.Source = true, a.Reason, sourceOf(dir, a.DeclRange)
		}
		out = append(out, n)
	}
	return out
}

// sourceOf names a range as FILE:LINE, the file relative to dir when it is
// inside it.
func sourceOf(dir string, r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	file := r.Filename
	if abs, err := filepath.Abs(file); err == nil {
		if rel, err := filepath.Rel(dir, abs); err == nil && filepath.IsLocal(rel) {
			file = rel
		}
	}
	return fmt.Sprintf("%s:%d", file, r.Start.Line)
}
