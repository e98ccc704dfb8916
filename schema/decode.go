package schema

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var (
	clusterSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "etcd_version"}, {Name: "fault_tolerance"}, {Name: "allow_even"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "connection"}, {Type: "service"}, {Type: "storage"}, {Type: "compaction"},
			{Type: "raft"}, {Type: "tls"}, {Type: "backup"}, {Type: "maintenance"}, {Type: "install"}, {Type: "auth"},
			{Type: "metrics"}, {Type: "logging"}, {Type: "corruption_check"}, {Type: "member", LabelNames: []string{"name"}},
			{Type: "accept_risk", LabelNames: []string{"risk"}},
		},
	}
	connectionSchema = &hcl.BodySchema{
		Attributes: attrs("user", "port", "private_key_file", "agent", "known_hosts_file", "sudo", "timeout"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "bastion"}},
	}
	bastionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "host", Required: true}, {Name: "port"}, {Name: "user"}, {Name: "private_key_file"}}}
	serviceSchema = &hcl.BodySchema{Attributes: attrs("manager", "name", "binary", "config_file", "data_dir",
		"start_command", "stop_command", "status_command", "restart_command", "stop_timeout", "user")}
	storageSchema     = &hcl.BodySchema{Attributes: attrs("quota_backend_bytes", "snapshot_count", "max_request_bytes")}
	compactionSchema  = &hcl.BodySchema{Attributes: attrs("mode", "retention")}
	maintenanceSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "defrag"}}}
	defragSchema      = &hcl.BodySchema{Attributes: attrs("fragmentation_above", "min_reclaimable")}
	raftSchema        = &hcl.BodySchema{Attributes: attrs("heartbeat_interval", "election_timeout")}
	tlsSchema         = &hcl.BodySchema{
		Attributes: attrs("min_remaining"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "client"}, {Type: "peer"}, {Type: "tool"}},
	}
	toolTLSSchema   = &hcl.BodySchema{Attributes: attrs("ca_file", "cert_file", "key_file")}
	memberTLSSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "client"}, {Type: "peer"}}}
	endpointSchema  = &hcl.BodySchema{Attributes: attrs("ca_file", "cert_file", "key_file", "ca_source", "cert_source", "key_source", "client_cert_auth")}
	backupSchema    = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "schedule", Required: true}, {Name: "on", Required: true}, {Name: "destination", Required: true},
			{Name: "keep_last"}, {Name: "max_age"}, {Name: "allow_unencrypted"}},
		Blocks: []hcl.BlockHeaderSchema{{Type: "encryption"}, {Type: "s3"}},
	}
	encryptionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "recipient", Required: true}}}
	s3Schema         = &hcl.BodySchema{Attributes: attrs("endpoint", "region", "path_style", "credentials_source")}
	memberSchema     = &hcl.BodySchema{
		Attributes: attrs("host", "peer_url", "client_url"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "connection"}, {Type: "tls"}},
	}
)

func (l *loader) clusters(blocks hcl.Blocks) {
	for _, b := range blocks {
		if c := l.cluster(b); c != nil {
			l.cfg.Clusters = append(l.cfg.Clusters, c)
		}
	}
}

func (l *loader) cluster(b *hcl.Block) *Cluster {
	c := NewCluster(b.Labels[0])
	c.DeclRange = b.DefRange
	l.checkName(b.LabelRanges[0], "cluster", c.Name)
	ctx := l.ctx
	content := l.content(b.Body, clusterSchema)
	as := content.Attributes

	if a := l.str(ctx, as, "etcd_version", &c.EtcdVersion); a != nil {
		c.EtcdVersion = strings.TrimPrefix(c.EtcdVersion, "v")
		if !validVersion(c.EtcdVersion) {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid etcd version",
				fmt.Sprintf("The etcd_version %q is not a release version such as \"3.6.16\".", c.EtcdVersion))...)
		}
	}
	var ft int64
	ftAttr := l.integer(ctx, as, "fault_tolerance", 0, 4, &ft)
	if ftAttr != nil {
		c.FaultTolerance = int(ft)
	}
	l.boolean(ctx, as, "allow_even", &c.AllowEven)

	// The connection block is decoded twice per member (defaults, then
	// the member's override), so keep its body.
	connBlock := l.single(content, "connection")
	c.Connection = l.connection(ctx, connBlock, nil, b.DefRange)
	if blk := l.single(content, "service"); blk != nil {
		l.service(ctx, blk, &c.Service)
	}
	if blk := l.single(content, "storage"); blk != nil {
		l.storage(ctx, blk, &c.Storage)
	}
	if blk := l.single(content, "raft"); blk != nil {
		l.raft(ctx, blk, &c.Raft)
	}
	if c.Service.StopTimeout == 0 {
		// etcd closes client connections with its request timeout
		// (5s + 2 x election timeout) per listener before it stops raft and
		// hands leadership over: allow twice that, plus a margin.
		c.Service.StopTimeout = 2*(5*time.Second+2*c.Raft.ElectionTimeout) + 5*time.Second
	}
	if blk := l.single(content, "compaction"); blk != nil {
		l.compaction(ctx, blk, &c.Compaction)
	}
	if blk := l.single(content, "maintenance"); blk != nil {
		c.Maintenance = l.maintenance(ctx, blk)
	}
	if blk := l.single(content, "install"); blk != nil {
		c.Install = l.install(blk, c)
	}
	var metricsURLs *hcl.Attribute
	if blk := l.single(content, "metrics"); blk != nil {
		c.Metrics, metricsURLs = l.metrics(ctx, blk)
	}
	if blk := l.single(content, "logging"); blk != nil {
		l.logging(ctx, blk, &c.Logging)
	}
	if blk := l.single(content, "corruption_check"); blk != nil {
		l.corruptionCheck(ctx, blk, c)
	}
	tlsBlock := l.single(content, "tls")
	var tlsContent *hcl.BodyContent
	if tlsBlock != nil {
		tlsContent = l.content(tlsBlock.Body, tlsSchema)
		c.TLS = l.clusterTLS(ctx, tlsContent)
	}

	seen := map[string]*hcl.Block{}
	for _, mb := range content.Blocks {
		if mb.Type != "member" {
			continue
		}
		name := mb.Labels[0]
		if prev, dup := seen[name]; dup {
			l.diags = append(l.diags, errAt(mb.LabelRanges[0], "Duplicate member block",
				fmt.Sprintf("Another member named %s was defined at %s.", name, prev.DefRange))...)
			continue
		}
		seen[name] = mb
		c.Members = append(c.Members, l.member(ctx, c, mb, connBlock, tlsContent))
	}
	l.memberMetricsURLs(ctx, c, metricsURLs)
	if blk := l.single(content, "backup"); blk != nil {
		c.Backup = l.backup(ctx, blk, c)
	}
	if blk := l.single(content, "auth"); blk != nil {
		c.Auth = l.auth(ctx, blk, c)
	}
	l.checkCluster(c, ftAttr, as)
	l.acceptRisks(ctx, c, content)
	l.checkRisks(c, content)
	return c
}

func validVersion(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" || len(p) > 4 {
			return false
		}
	}
	return true
}

// checkName checks a cluster or member name, which etcd and the tool use
// in file names and member lists.
func (l *loader) checkName(rng hcl.Range, what, name string) {
	ok := name != "" && len(name) <= 63
	for i, r := range name {
		alnum := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !alnum && (i == 0 || (r != '-' && r != '_' && r != '.')) {
			ok = false
		}
	}
	if !ok {
		l.diags = append(l.diags, errAt(rng, fmt.Sprintf("Invalid %s name", what),
			fmt.Sprintf("A %s name must start with a letter or digit, contain only letters, digits, '-', '_' and '.', and be at most 63 characters; %q is not valid.", what, name))...)
	}
}

func (l *loader) service(ctx *hcl.EvalContext, blk *hcl.Block, s *Service) {
	as := l.content(blk.Body, serviceSchema).Attributes
	if a := l.str(ctx, as, "manager", &s.Manager); a != nil {
		l.oneOf(a, "manager", s.Manager, "systemd", "runit", "command")
	}
	if a := l.str(ctx, as, "name", &s.Name); a != nil {
		l.checkValue(a, "Invalid service name", "service name", s.Name, serviceNameProblem(s.Manager, s.Name))
	}
	if a := l.str(ctx, as, "user", &s.User); a != nil {
		l.checkValue(a, "Invalid service user", "service user", s.User, systemUserProblem(s.User))
	}
	l.hostPath(l.str(ctx, as, "binary", &s.Binary), "binary", s.Binary)
	l.hostPath(l.str(ctx, as, "config_file", &s.ConfigFile), "config_file", s.ConfigFile)
	l.hostPath(l.str(ctx, as, "data_dir", &s.DataDir), "data_dir", s.DataDir)
	cmds := map[string]*string{"start_command": &s.StartCommand, "stop_command": &s.StopCommand,
		"status_command": &s.StatusCommand, "restart_command": &s.RestartCommand}
	for _, n := range []string{"start_command", "stop_command", "status_command", "restart_command"} {
		if a := l.str(ctx, as, n, cmds[n]); a != nil && s.Manager != "command" {
			l.diags = append(l.diags, errAt(a.NameRange, "Command without command manager",
				fmt.Sprintf("The %s is used only with manager = \"command\"; this service uses %q.", n, s.Manager))...)
		}
	}
	if s.Manager == "command" {
		for _, n := range []string{"start_command", "stop_command", "status_command"} {
			if *cmds[n] == "" && !l.rejected[as[n]] {
				l.diags = append(l.diags, errAt(blk.DefRange, "Missing service command",
					fmt.Sprintf("A service with manager = \"command\" needs %s.", n))...)
			}
		}
	}
	l.duration(ctx, as, "stop_timeout", time.Second, &s.StopTimeout)
}

func (l *loader) storage(ctx *hcl.EvalContext, blk *hcl.Block, s *Storage) {
	as := l.content(blk.Body, storageSchema).Attributes
	if a := l.size(ctx, as, "quota_backend_bytes", &s.QuotaBackendBytes); a != nil {
		switch q := s.QuotaBackendBytes; {
		case q < MinQuotaBackendBytes || q > MaxQuotaBackendBytes:
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Quota out of range",
				fmt.Sprintf("The quota_backend_bytes must be between 16MiB and 100GiB; %d bytes is outside that range.", q))...)
		case q > WarnQuotaBackendBytes:
			l.diags = append(l.diags, warnAt(a.Expr.Range(), "Quota above etcd's suggested maximum",
				fmt.Sprintf("etcd suggests a quota of at most 8GiB; %d bytes makes defragmentation and snapshots slow.", q))...)
		}
	}
	var sc int64
	if l.integer(ctx, as, "snapshot_count", 1, 1<<40, &sc) != nil {
		s.SnapshotCount = uint64(sc)
	}
	if a := l.size(ctx, as, "max_request_bytes", &s.MaxRequestBytes); a != nil && (s.MaxRequestBytes <= 0 || s.MaxRequestBytes > 64<<20) {
		l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid max request size",
			fmt.Sprintf("The max_request_bytes must be between 1 byte and 64MiB; %d bytes is outside that range.", s.MaxRequestBytes))...)
	}
}

func (l *loader) raft(ctx *hcl.EvalContext, blk *hcl.Block, r *Raft) {
	as := l.content(blk.Body, raftSchema).Attributes
	hb := l.duration(ctx, as, "heartbeat_interval", time.Millisecond, &r.HeartbeatInterval)
	et := l.duration(ctx, as, "election_timeout", time.Millisecond, &r.ElectionTimeout)
	if hb != nil && r.HeartbeatInterval < time.Millisecond {
		l.diags = append(l.diags, errAt(hb.Expr.Range(), "Heartbeat interval too short", "The heartbeat_interval must be at least 1ms.")...)
	}
	if r.ElectionTimeout < 5*r.HeartbeatInterval {
		rng := blk.DefRange
		if et != nil {
			rng = et.Expr.Range()
		} else if hb != nil {
			rng = hb.Expr.Range()
		}
		l.diags = append(l.diags, errAt(rng, "Election timeout too short",
			fmt.Sprintf("etcd requires election_timeout to be at least 5 times heartbeat_interval; %s is less than 5 × %s.", r.ElectionTimeout, r.HeartbeatInterval))...)
	}
	if et != nil && r.ElectionTimeout > 50*time.Second {
		l.diags = append(l.diags, errAt(et.Expr.Range(), "Election timeout too long", "etcd refuses an election_timeout above 50s.")...)
	}
}

func (l *loader) compaction(ctx *hcl.EvalContext, blk *hcl.Block, c *Compaction) {
	as := l.content(blk.Body, compactionSchema).Attributes
	if a := l.str(ctx, as, "mode", &c.Mode); a != nil && !l.oneOf(a, "mode", c.Mode, "periodic", "revision") {
		return
	}
	v, a, ok := l.value(ctx, as, "retention", cty.DynamicPseudoType)
	if !ok {
		if c.Mode == "revision" && a == nil {
			c.Retention = "0"
		}
		return
	}
	rng := a.Expr.Range()
	switch c.Mode {
	case "periodic":
		d, diags := durationValue(v, rng, "retention", time.Hour)
		if diags.HasErrors() {
			l.diags = append(l.diags, errAt(rng, "Compaction retention does not match mode",
				"With mode = \"periodic\" the retention is a duration such as \"1h\" or \"30m\", or a number of hours.")...)
			return
		}
		c.Retention = d.String()
	case "revision":
		var n int64
		ok := false
		switch v.Type() {
		case cty.Number:
			n, ok = valueInt64(v)
		case cty.String:
			if s := v.AsString(); s != "" && strings.Trim(s, "0123456789") == "" && len(s) < 19 {
				fmt.Sscan(s, &n)
				ok = true
			}
		}
		if !ok || n < 0 {
			l.diags = append(l.diags, errAt(rng, "Compaction retention does not match mode",
				"With mode = \"revision\" the retention is a whole number of revisions to keep, such as 1000.")...)
			return
		}
		c.Retention = fmt.Sprint(n)
	}
}

func (l *loader) member(ctx *hcl.EvalContext, c *Cluster, mb *hcl.Block, clusterConn *hcl.Block, tlsContent *hcl.BodyContent) *Member {
	m := &Member{Name: mb.Labels[0], DeclRange: mb.DefRange}
	l.checkName(mb.LabelRanges[0], "member", m.Name)
	content := l.content(mb.Body, memberSchema)
	as := content.Attributes
	ranges := map[string]hcl.Range{}
	for n, a := range as {
		ranges[n] = a.Expr.Range()
	}
	l.attrRanges[m] = ranges
	if a := l.str(ctx, as, "host", &m.Host); a != nil {
		m.Host = l.checkHost(a, "host", m.Host)
	} else {
		if _, present := as["host"]; !present {
			l.diags = append(l.diags, errAt(mb.DefRange, "Missing member host",
				fmt.Sprintf("The member %s needs host, the address its host is reached at over SSH.", m.Name))...)
		}
	}
	m.Connection = c.Connection
	if cb := l.single(content, "connection"); cb != nil {
		m.Connection = l.connection(ctx, cb, &c.Connection, cb.DefRange)
	}

	memberTLS := l.single(content, "tls")
	if memberTLS != nil && c.TLS == nil {
		l.diags = append(l.diags, errAt(memberTLS.DefRange, "Member tls without cluster tls",
			"A member's tls block overrides the cluster's tls settings; add a tls block to the cluster first.")...)
	}
	if c.TLS != nil {
		mctx := ctx.NewChild()
		mctx.Variables = map[string]cty.Value{"member": cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal(m.Name), "host": cty.StringVal(m.Host)})}
		var mcontent *hcl.BodyContent
		if memberTLS != nil {
			mcontent = l.content(memberTLS.Body, memberTLSSchema)
		}
		m.TLS = &TLS{MinRemaining: c.TLS.MinRemaining}
		for _, side := range []string{"client", "peer"} {
			base, baseBlk := l.endpointAttrs(tlsContent, side)
			var over hcl.Attributes
			var overBlk *hcl.Block
			if mcontent != nil {
				over, overBlk = l.endpointAttrs(mcontent, side)
			}
			if baseBlk == nil {
				if overBlk != nil {
					l.diags = append(l.diags, errAt(overBlk.DefRange, "Member tls without cluster tls",
						fmt.Sprintf("The cluster's tls block has no %s block for this member's %s block to override.", side, side))...)
				}
				continue
			}
			merged := hcl.Attributes{}
			for k, v := range base {
				merged[k] = v
			}
			for k, v := range over {
				merged[k] = v
			}
			ep := l.endpoint(mctx, merged, baseBlk.DefRange, side)
			if a, ok := merged["client_cert_auth"]; ok {
				ranges["tls."+side+".client_cert_auth"] = a.Expr.Range()
			}
			if side == "client" {
				m.TLS.Client = ep
			} else {
				m.TLS.Peer = ep
			}
		}
	}

	scheme := func(tls *TLSEndpoint) string {
		if tls != nil {
			return "https"
		}
		return "http"
	}
	var clientTLS, peerTLS *TLSEndpoint
	if m.TLS != nil {
		clientTLS, peerTLS = m.TLS.Client, m.TLS.Peer
	}
	if l.str(ctx, as, "peer_url", &m.PeerURL) == nil && m.Host != "" {
		m.PeerURL = fmt.Sprintf("%s://%s", scheme(peerTLS), joinHostPort(m.Host, DefaultPeerPort))
	}
	if l.str(ctx, as, "client_url", &m.ClientURL) == nil && m.Host != "" {
		m.ClientURL = fmt.Sprintf("%s://%s", scheme(clientTLS), joinHostPort(m.Host, DefaultClientPort))
	}
	return m
}

// joinHostPort joins a host as decoded (an IPv6 literal without brackets)
// and a port, bracketing an IPv6 literal exactly once.
func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
