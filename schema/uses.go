package schema

import (
	"path/filepath"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// uses fills in each cluster's Uses: the file declaring it, the files
// declaring the variables and locals it references (through locals too),
// and the local files its model names (keys, known_hosts, TLS sources,
// backup credentials). A CI pipeline plans a cluster again when one of
// them changes (`etcdform clusters --changed`).
func (l *loader) uses(varBlocks, localBlocks, clusterBlocks hcl.Blocks) {
	varFile := map[string]string{}
	for _, b := range varBlocks {
		varFile[b.Labels[0]] = b.DefRange.Filename
	}
	type local struct {
		file string
		expr hcl.Expression
	}
	locals := map[string]local{}
	for _, b := range localBlocks {
		attrs, _ := b.Body.JustAttributes()
		for n, a := range attrs {
			if _, dup := locals[n]; !dup {
				locals[n] = local{file: a.NameRange.Filename, expr: a.Expr}
			}
		}
	}
	byName := map[string]*Cluster{}
	for _, c := range l.cfg.Clusters {
		byName[c.Name] = c
	}
	for _, b := range clusterBlocks {
		c := byName[b.Labels[0]]
		if c == nil || c.DeclRange != b.DefRange {
			continue
		}
		files := map[string]bool{b.DefRange.Filename: true}
		seenLocal := map[string]bool{}
		var follow func(ts []hcl.Traversal)
		follow = func(ts []hcl.Traversal) {
			for _, t := range ts {
				if len(t) < 2 {
					continue
				}
				attr, ok := t[1].(hcl.TraverseAttr)
				if !ok {
					continue
				}
				switch t.RootName() {
				case "var":
					if f, ok := varFile[attr.Name]; ok {
						files[f] = true
					}
				case "local":
					lv, ok := locals[attr.Name]
					if !ok || seenLocal[attr.Name] {
						continue
					}
					seenLocal[attr.Name] = true
					files[lv.file] = true
					follow(lv.expr.Variables())
				}
			}
		}
		follow(bodyVariables(b.Body))
		for _, p := range modelFiles(c) {
			files[p] = true
		}
		c.Uses = nil
		for f := range files {
			if f == "" {
				continue
			}
			if abs, err := filepath.Abs(f); err == nil {
				f = abs
			}
			c.Uses = append(c.Uses, filepath.Clean(f))
		}
		slices.Sort(c.Uses)
		c.Uses = slices.Compact(c.Uses)
	}
}

// bodyVariables is every variable reference in body and its nested blocks.
func bodyVariables(body hcl.Body) []hcl.Traversal {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		attrs, _ := body.JustAttributes()
		var out []hcl.Traversal
		for _, a := range attrs {
			out = append(out, a.Expr.Variables()...)
		}
		return out
	}
	var out []hcl.Traversal
	for _, a := range sb.Attributes {
		out = append(out, a.Expr.Variables()...)
	}
	for _, blk := range sb.Blocks {
		out = append(out, bodyVariables(blk.Body)...)
	}
	return out
}

// modelFiles is the local files c's model names (absolute paths).
func modelFiles(c *Cluster) []string {
	var out []string
	conn := func(cn Connection) {
		out = append(out, cn.PrivateKeyFile, cn.KnownHostsFile)
		if cn.Bastion != nil {
			out = append(out, cn.Bastion.PrivateKeyFile)
		}
	}
	conn(c.Connection)
	tls := func(t *TLS) {
		if t == nil {
			return
		}
		for _, e := range []*TLSEndpoint{t.Client, t.Peer} {
			if e != nil {
				out = append(out, e.CA.Source, e.Cert.Source, e.Key.Source)
			}
		}
		if t.Tool != nil {
			out = append(out, t.Tool.CAFile, t.Tool.CertFile, t.Tool.KeyFile)
		}
	}
	tls(c.TLS)
	for _, m := range c.Members {
		conn(m.Connection)
		tls(m.TLS)
	}
	if c.Backup != nil && c.Backup.S3 != nil {
		out = append(out, c.Backup.S3.CredentialsSource)
	}
	if c.Auth != nil {
		for _, u := range c.Auth.Users {
			out = append(out, u.Password.File)
		}
	}
	return out
}
