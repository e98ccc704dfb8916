package schema

// Decoding the tls blocks: the cluster's settings and the tool's
// credentials, and each member's client and peer endpoints.

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// tlsSpec is the cluster's tls block kept as expressions: file paths are
// evaluated once per member, with `member` in scope.
type tlsSpec struct {
	client, peer hcl.Attributes
}

func (l *loader) clusterTLS(ctx *hcl.EvalContext, content *hcl.BodyContent) *TLS {
	t := &TLS{MinRemaining: DefaultMinRemaining}
	l.duration(ctx, content.Attributes, "min_remaining", time.Hour, &t.MinRemaining)
	if blk := l.single(content, "client"); blk != nil {
		t.Client = &TLSEndpoint{ClientCertAuth: true}
	}
	if blk := l.single(content, "peer"); blk != nil {
		t.Peer = &TLSEndpoint{ClientCertAuth: true}
	}
	if blk := l.single(content, "tool"); blk != nil {
		t.Tool = l.toolTLS(ctx, blk)
	}
	if t.Client == nil && t.Peer == nil {
		l.diags = append(l.diags, errAt(content.MissingItemRange, "Empty tls block",
			"A tls block needs a client block, a peer block or both.")...)
	}
	return t
}

// toolTLS decodes the tool's own etcd client credentials: local files,
// relative to the configuration directory. The key is only stat'ed.
func (l *loader) toolTLS(ctx *hcl.EvalContext, blk *hcl.Block) *ToolTLS {
	as := l.content(blk.Body, toolTLSSchema).Attributes
	t := &ToolTLS{}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"ca_file", &t.CAFile}, {"cert_file", &t.CertFile}, {"key_file", &t.KeyFile}} {
		var p string
		if a := l.str(ctx, as, f.name, &p); a != nil && p != "" {
			*f.dst = l.localPath(p)
			l.mustExist(*f.dst, a.Expr.Range(), "tool "+strings.TrimSuffix(f.name, "_file")+" file")
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		l.diags = append(l.diags, errAt(blk.DefRange, "Incomplete tool credentials",
			"The tool block needs both cert_file and key_file, or neither (then the tool connects without a client certificate).")...)
	}
	return t
}

// endpointAttrs returns the attributes of the first block of type typ.
func (l *loader) endpointAttrs(content *hcl.BodyContent, typ string) (hcl.Attributes, *hcl.Block) {
	for _, b := range content.Blocks {
		if b.Type == typ {
			return l.content(b.Body, endpointSchema).Attributes, b
		}
	}
	return nil, nil
}

// endpoint evaluates one side's file settings for one member.
func (l *loader) endpoint(ctx *hcl.EvalContext, as hcl.Attributes, rng hcl.Range, side string) *TLSEndpoint {
	ep := &TLSEndpoint{ClientCertAuth: true}
	l.boolean(ctx, as, "client_cert_auth", &ep.ClientCertAuth)
	files := []struct {
		kind string
		dst  *TLSFile
	}{{"ca", &ep.CA}, {"cert", &ep.Cert}, {"key", &ep.Key}}
	for _, f := range files {
		var src string
		srcAttr := l.str(ctx, as, f.kind+"_source", &src)
		if srcAttr != nil {
			f.dst.Source = l.localPath(src)
			l.mustExist(f.dst.Source, srcAttr.Expr.Range(), fmt.Sprintf("%s %s source", side, f.kind))
		}
		pa := l.str(ctx, as, f.kind+"_file", &f.dst.Path)
		l.hostPath(pa, f.kind+"_file", f.dst.Path)
		if f.dst.Path == "" && f.dst.Source != "" {
			f.dst.Path = DefaultTLSDir + "/" + filepath.Base(f.dst.Source)
			if why := hostPathProblem(f.dst.Path); why != "" {
				l.diags = append(l.diags, errAt(srcAttr.Expr.Range(), "Invalid path on host",
					fmt.Sprintf("Without %s_file, the %s_source is uploaded to %q, which %s. Set %s_file.", f.kind, f.kind, f.dst.Path, why, f.kind))...)
			}
		}
		required := f.kind != "ca" || ep.ClientCertAuth
		if f.dst.Path == "" && required {
			_, present := as[f.kind+"_file"]
			if !present {
				l.diags = append(l.diags, errAt(rng, "Missing TLS file",
					fmt.Sprintf("The %s block needs %s_file (the path on the host) or %s_source (a local file to upload).", side, f.kind, f.kind))...)
			}
		}
	}
	return ep
}
