package schema

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Select returns a copy of c that holds only the clusters named in names
// (`plan --cluster`), in configuration order; Files, Hash and Sensitive
// stay those of the whole directory (the plan binds the files, not the
// selection). With no names it returns c itself. A name no cluster has
// is an error diagnostic that lists the clusters there are, with where
// each is declared.
func (c *Config) Select(names []string) (*Config, hcl.Diagnostics) {
	if len(names) == 0 {
		return c, nil
	}
	var diags hcl.Diagnostics
	known := map[string]bool{}
	for _, cl := range c.Clusters {
		known[cl.Name] = true
	}
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			continue
		}
		if !known[n] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown cluster",
				Detail:   fmt.Sprintf("--cluster %q: no cluster of that name is declared in %s. %s", n, c.Dir, c.clusterList()),
			})
		}
	}
	if diags.HasErrors() {
		return c, diags
	}
	sel := *c
	sel.Clusters = nil
	for _, cl := range c.Clusters {
		if slices.Contains(names, cl.Name) {
			sel.Clusters = append(sel.Clusters, cl)
		}
	}
	return &sel, nil
}

// clusterList says which clusters c declares, and where.
func (c *Config) clusterList() string {
	if len(c.Clusters) == 0 {
		return "It declares no cluster."
	}
	var list []string
	for _, cl := range c.Clusters {
		r := cl.DeclRange
		if r.Filename == "" {
			list = append(list, cl.Name)
			continue
		}
		file := r.Filename
		if rel, err := filepath.Rel(c.Dir, file); err == nil && filepath.IsLocal(rel) {
			file = rel
		}
		list = append(list, fmt.Sprintf("%s (%s:%d)", cl.Name, file, r.Start.Line))
	}
	return "The clusters are: " + strings.Join(list, ", ") + "."
}
