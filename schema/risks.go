package schema

// Safe-default warnings (issue 18 #3): settings the operator guides call
// dangerous, found per cluster, each a warning quoting the guide's reason
// (an error under LoadOptions.Strict) unless the cluster accepts it with an
// accept_risk block that gives a reason.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Risk names a setting the operator guides call dangerous. The names are
// the labels of accept_risk blocks and appear in plans; never rename one.
type Risk string

// The risks, in the order they are reported.
const (
	RiskDefaultQuota    Risk = "default-quota"      // quota_backend_bytes at (or below) etcd's 2 GiB default
	RiskCompactionOff   Risk = "compaction-off"     // no auto compaction (retention 0)
	RiskPlaintextClient Risk = "plaintext-client"   // client URLs without TLS
	RiskPlaintextPeer   Risk = "plaintext-peer"     // peer URLs without TLS
	RiskPeerCertAuthOff Risk = "peer-cert-auth-off" // peer TLS without client-certificate checks
	RiskAuthOff         Risk = "auth-off"           // no auth block, or auth.enabled = false
)

// riskInfo is one row of the risk table: what the warning says and the
// guide sentences it quotes, verbatim (TestRiskQuotesAreVerbatim).
type riskInfo struct {
	Risk    Risk
	Summary string // the diagnostic's summary
	Guide   string // the operator guide's file name in the project's operator-guides folder
	About   string // what the guide is, for the reader
	Quote   string // the guide's sentences, exactly
	Fix     string // what to write instead, a sentence
}

// OperatorGuide files the warnings quote.
const (
	guideProduction = "001_cefc37ad715bf683.txt"
	guideTLS        = "003_a756930241e04525.txt"
)

var riskTable = []riskInfo{
	{
		Risk: RiskDefaultQuota, Summary: "Storage quota at etcd's 2 GiB default or lower",
		Guide: guideProduction, About: "production guide",
		Quote: "etcd's default storage quota is 2GB. This is dangerously low for production clusters. A moderately active cluster can hit 2GB within months.",
		Fix:   `Set storage.quota_backend_bytes above it (the guide's baseline is "8GiB").`,
	},
	{
		Risk: RiskCompactionOff, Summary: "Auto compaction off",
		Guide: guideProduction, About: "production guide",
		Quote: "Without periodic compaction, the database will grow until it hits quota and locks the cluster into read-only mode.",
		Fix:   `Set compaction.retention (the guide's choice is mode = "periodic", retention = "1h").`,
	},
	{
		Risk: RiskPlaintextClient, Summary: "Client traffic without TLS",
		Guide: guideProduction, About: "production guide",
		Quote: "Without TLS, any process on the network that can reach port 2379 can read all cluster secrets.",
		Fix:   "Add a client block to the cluster's tls block (adding the tls block when there is none; docs/tls.md).",
	},
	{
		Risk: RiskPlaintextPeer, Summary: "Peer traffic without TLS",
		Guide: guideProduction, About: "production guide",
		Quote: "etcd peer traffic and client traffic should always be TLS-encrypted, especially in cloud environments.",
		Fix:   "Add a peer block to the cluster's tls block (adding the tls block when there is none; docs/tls.md).",
	},
	{
		Risk: RiskPeerCertAuthOff, Summary: "Peer client-certificate auth off",
		Guide: guideProduction, About: "production guide",
		Quote: "In cloud environments, configure security groups to restrict etcd port access and always use TLS with mutual authentication for both client and peer connections.",
		Fix:   "Remove client_cert_auth = false from the peer block (it defaults to true), so a member accepts peer connections only with a certificate its CA signed.",
	},
	{
		Risk: RiskAuthOff, Summary: "Authentication off",
		Guide: guideTLS, About: "TLS deployment guide",
		Quote: "Enable mutual TLS on both client and peer ports; never expose etcd without authentication",
		Fix:   "Declare auth with enabled = true, a root user and the roles clients need (docs/auth.md).",
	},
}

// RiskNames lists every risk name accept_risk takes, in report order.
func RiskNames() []Risk {
	out := make([]Risk, len(riskTable))
	for i, r := range riskTable {
		out[i] = r.Risk
	}
	return out
}

func riskOf(r Risk) (riskInfo, bool) {
	for _, x := range riskTable {
		if x.Risk == r {
			return x, true
		}
	}
	return riskInfo{}, false
}

// AcceptedRisk is one accept_risk block: the operator keeps Risk on
// purpose, for Reason (required, never empty).
type AcceptedRisk struct {
	Risk      Risk
	Reason    string
	DeclRange hcl.Range // the block's header
}

// RiskFinding is a risk a cluster's settings carry.
type RiskFinding struct {
	Risk    Risk
	Summary string
	// Detail says what in the cluster carries the risk, quotes the guide
	// and says how to fix or accept it.
	Detail string
	// Subject is the setting that carries the risk: the attribute when
	// one was written, else its block, else the cluster's header.
	Subject hcl.Range
	// Accepted is the cluster's accept_risk block for it, or nil.
	Accepted *AcceptedRisk
}

// RiskDiagnostic marks a diagnostic (hcl.Diagnostic.Extra) as a
// safe-default warning, or its strict-mode error.
type RiskDiagnostic struct {
	Cluster string
	Risk    Risk
}

// RiskOf reports the risk a diagnostic is about, if it is a safe-default
// diagnostic.
func RiskOf(d *hcl.Diagnostic) (RiskDiagnostic, bool) {
	r, ok := d.Extra.(RiskDiagnostic)
	return r, ok
}

var acceptRiskSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "reason", Required: true}}}

// maxReasonLen bounds an accept_risk reason: a sentence or two, shown in
// every plan.
const maxReasonLen = 500

// acceptRisks decodes the cluster's accept_risk blocks.
func (l *loader) acceptRisks(ctx *hcl.EvalContext, c *Cluster, content *hcl.BodyContent) {
	seen := map[Risk]*hcl.Block{}
	names := make([]string, len(riskTable))
	for i, r := range riskTable {
		names[i] = string(r.Risk)
	}
	for _, b := range content.Blocks {
		if b.Type != "accept_risk" {
			continue
		}
		r := Risk(b.Labels[0])
		if _, ok := riskOf(r); !ok {
			l.diags = append(l.diags, errAt(b.LabelRanges[0], "Unknown risk",
				fmt.Sprintf("accept_risk takes one of %s, not %q.%s", quoteList(names), r, suggestion(string(r), names)))...)
			continue
		}
		if prev, dup := seen[r]; dup {
			l.diags = append(l.diags, errAt(b.LabelRanges[0], "Duplicate accept_risk block",
				fmt.Sprintf("The cluster %s accepts the risk %s twice; the other block was defined at %s.", c.Name, r, prev.DefRange))...)
			continue
		}
		seen[r] = b
		as := l.content(b.Body, acceptRiskSchema).Attributes
		var reason string
		a := l.str(ctx, as, "reason", &reason)
		if a == nil {
			continue // missing (hcl reported it) or unusable (reported)
		}
		reason = strings.TrimSpace(reason)
		switch {
		case reason == "":
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Empty reason",
				fmt.Sprintf("An accept_risk block needs a reason a reviewer can judge: why the cluster %s keeps %s.", c.Name, r))...)
			continue
		case len(reason) > maxReasonLen:
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Reason too long",
				fmt.Sprintf("An accept_risk reason is at most %d bytes; this one has %d. Link to a longer text instead.", maxReasonLen, len(reason)))...)
			continue
		}
		c.AcceptedRisks = append(c.AcceptedRisks, AcceptedRisk{Risk: r, Reason: reason, DeclRange: b.DefRange})
	}
}

// checkRisks finds the cluster's risks and reports each one it does not
// accept: a warning, or an error under LoadOptions.Strict. An accept_risk
// for a risk the cluster does not carry is reported too (the same way):
// left in place, it would silently accept the risk when a later change
// brings it back.
func (l *loader) checkRisks(c *Cluster, content *hcl.BodyContent) {
	type found struct {
		subject hcl.Range
		what    string // the first sentence of the detail
	}
	finds := map[Risk]found{}
	quotaRange := blockAttrRange(content, "storage", storageSchema, "quota_backend_bytes", c.DeclRange)
	if q := c.Storage.QuotaBackendBytes; q <= DefaultQuotaBackendBytes {
		what := fmt.Sprintf("The cluster %s leaves storage.quota_backend_bytes at etcd's default of 2 GiB.", c.Name)
		if q < DefaultQuotaBackendBytes {
			what = fmt.Sprintf("The cluster %s sets storage.quota_backend_bytes to %d bytes, below etcd's default of 2 GiB.", c.Name, q)
		}
		finds[RiskDefaultQuota] = found{quotaRange, what}
	}
	if c.Compaction.Retention == "0s" || c.Compaction.Retention == "0" {
		rng := blockAttrRange(content, "compaction", compactionSchema, "retention", c.DeclRange)
		finds[RiskCompactionOff] = found{rng, fmt.Sprintf("The cluster %s has no auto compaction (compaction.retention is 0, etcd's default).", c.Name)}
	}
	tlsRange := c.DeclRange
	if blk := firstBlock(content, "tls"); blk != nil {
		tlsRange = blk.DefRange
	}
	if c.TLS == nil || c.TLS.Client == nil {
		finds[RiskPlaintextClient] = found{tlsRange, fmt.Sprintf("The cluster %s serves clients over plain http: its tls block has no client block.", c.Name)}
		if c.TLS == nil {
			finds[RiskPlaintextClient] = found{tlsRange, fmt.Sprintf("The cluster %s serves clients over plain http: it has no tls block.", c.Name)}
		}
	}
	if c.TLS == nil || c.TLS.Peer == nil {
		finds[RiskPlaintextPeer] = found{tlsRange, fmt.Sprintf("The members of cluster %s talk to each other over plain http: its tls block has no peer block.", c.Name)}
		if c.TLS == nil {
			finds[RiskPlaintextPeer] = found{tlsRange, fmt.Sprintf("The members of cluster %s talk to each other over plain http: it has no tls block.", c.Name)}
		}
	} else {
		// client_cert_auth may be set per member, so name the members.
		var off []string
		var rng *hcl.Range
		for _, m := range c.Members {
			if m.TLS != nil && m.TLS.Peer != nil && !m.TLS.Peer.ClientCertAuth {
				off = append(off, m.Name)
				if r, ok := l.attrRanges[m]["tls.peer.client_cert_auth"]; ok && rng == nil {
					rng = &r
				}
			}
		}
		if len(off) > 0 {
			if rng == nil {
				rng = &tlsRange
			}
			who := "its members accept"
			if len(off) < len(c.Members) {
				who = fmt.Sprintf("the members %s accept", strings.Join(off, ", "))
				if len(off) == 1 {
					who = fmt.Sprintf("the member %s accepts", off[0])
				}
			}
			finds[RiskPeerCertAuthOff] = found{*rng, fmt.Sprintf("The cluster %s encrypts peer traffic, but %s peer connections without a client certificate (client_cert_auth = false).", c.Name, who)}
		}
	}

	switch {
	case c.Auth == nil:
		finds[RiskAuthOff] = found{c.DeclRange, fmt.Sprintf("The cluster %s has no auth block: etcdform does not turn etcd's authentication on, and any client that connects may read and write every key unless auth was turned on by hand.", c.Name)}
	case !c.Auth.Enabled:
		rng := blockAttrRange(content, "auth", authSchema, "enabled", c.Auth.DeclRange)
		finds[RiskAuthOff] = found{rng, fmt.Sprintf("The cluster %s turns etcd's authentication off (auth.enabled = false): any client that connects may read and write every key.", c.Name)}
	}

	accepted := map[Risk]*AcceptedRisk{}
	for i := range c.AcceptedRisks {
		accepted[c.AcceptedRisks[i].Risk] = &c.AcceptedRisks[i]
	}
	for _, info := range riskTable {
		f, ok := finds[info.Risk]
		if !ok {
			continue
		}
		end := "" // a quote that is not a whole sentence gets the full stop outside
		if !strings.HasSuffix(info.Quote, ".") {
			end = "."
		}
		detail := fmt.Sprintf("%s The %s (operator guide %s) says: \"%s\"%s %s Or keep it on purpose with accept_risk %q { reason = \"...\" } in the cluster block.",
			f.what, info.About, info.Guide, info.Quote, end, info.Fix, info.Risk)
		finding := RiskFinding{Risk: info.Risk, Summary: info.Summary, Detail: detail, Subject: f.subject, Accepted: accepted[info.Risk]}
		c.Risks = append(c.Risks, finding)
		if finding.Accepted == nil {
			l.riskDiag(c, info.Risk, f.subject, info.Summary, detail)
		}
	}
	for _, a := range c.AcceptedRisks {
		if _, ok := finds[a.Risk]; !ok {
			info, _ := riskOf(a.Risk)
			l.riskDiag(c, a.Risk, a.DeclRange, "Risk accepted but not present",
				fmt.Sprintf("The cluster %s accepts the risk %s, but its settings do not carry it (%s). Remove the accept_risk block: left in place, it would silently accept the risk when a later change brings it back.",
					c.Name, a.Risk, strings.ToLower(info.Summary[:1])+info.Summary[1:]))
		}
	}
}

// riskDiag reports a safe-default diagnostic: a warning, or an error under
// LoadOptions.Strict.
func (l *loader) riskDiag(c *Cluster, r Risk, rng hcl.Range, summary, detail string) {
	sev := hcl.DiagWarning
	if l.opts.Strict {
		sev = hcl.DiagError
	}
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: rng.Ptr(),
		Extra: RiskDiagnostic{Cluster: c.Name, Risk: r}})
}

// firstBlock returns the first block of type typ (duplicates were
// reported when the block was decoded).
func firstBlock(content *hcl.BodyContent, typ string) *hcl.Block {
	i := slices.IndexFunc(content.Blocks, func(b *hcl.Block) bool { return b.Type == typ })
	if i < 0 {
		return nil
	}
	return content.Blocks[i]
}

// blockAttrRange returns the range of attribute name's expression in the
// first block of type typ, or the block's header when the attribute is not
// set, or def when there is no such block. The block's own diagnostics
// were reported when it was decoded.
func blockAttrRange(content *hcl.BodyContent, typ string, s *hcl.BodySchema, name string, def hcl.Range) hcl.Range {
	blk := firstBlock(content, typ)
	if blk == nil {
		return def
	}
	bc, _ := blk.Body.Content(s)
	if a, ok := bc.Attributes[name]; bc != nil && ok {
		return a.Expr.Range()
	}
	return blk.DefRange
}
