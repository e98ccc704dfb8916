package schema

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/etcdform/etcdform/internal/cron"
)

// Defaults applied when the configuration leaves a setting out. The etcd
// ones are etcd's own defaults.
const (
	DefaultUser       = "root"
	DefaultSSHPort    = 22
	DefaultSSHTimeout = 10 * time.Second
	// DefaultKnownHostsFile is OpenSSH's: ~/.ssh/known_hosts of the user
	// who runs etcdform (defaultKnownHostsFile expands it).
	DefaultKnownHostsFile    = "~/.ssh/known_hosts"
	DefaultManager           = "systemd"
	DefaultServiceName       = "etcd"
	DefaultBinary            = "/usr/local/bin/etcd"
	DefaultConfigFile        = "/etc/etcd/etcd.conf.yml"
	DefaultDataDir           = "/var/lib/etcd"
	DefaultQuotaBackendBytes = int64(2 << 30)
	DefaultSnapshotCount     = uint64(10000)
	DefaultMaxRequestBytes   = int64(1572864)
	DefaultHeartbeat         = 100 * time.Millisecond
	DefaultElection          = time.Second
	DefaultCompactionMode    = "periodic"
	DefaultRetention         = "0s"
	DefaultMinRemaining      = 720 * time.Hour
	DefaultTLSDir            = "/etc/etcd/pki"
	DefaultPeerPort          = 2380
	DefaultClientPort        = 2379
)

// Limits checked by validation.
const (
	MinQuotaBackendBytes  = int64(16 << 20)
	MaxQuotaBackendBytes  = int64(100 << 30)
	WarnQuotaBackendBytes = int64(8 << 30) // etcd's suggested maximum
	MaxMembers            = 9
)

var (
	clusterSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "etcd_version"}, {Name: "fault_tolerance"}, {Name: "allow_even"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "connection"}, {Type: "service"}, {Type: "storage"}, {Type: "compaction"},
			{Type: "raft"}, {Type: "tls"}, {Type: "backup"}, {Type: "member", LabelNames: []string{"name"}},
		},
	}
	connectionSchema = &hcl.BodySchema{
		Attributes: attrs("user", "port", "private_key_file", "agent", "known_hosts_file", "sudo", "timeout"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "bastion"}},
	}
	bastionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "host", Required: true}, {Name: "port"}, {Name: "user"}, {Name: "private_key_file"}}}
	serviceSchema = &hcl.BodySchema{Attributes: attrs("manager", "name", "binary", "config_file", "data_dir",
		"start_command", "stop_command", "status_command", "restart_command", "stop_timeout")}
	storageSchema    = &hcl.BodySchema{Attributes: attrs("quota_backend_bytes", "snapshot_count", "max_request_bytes")}
	compactionSchema = &hcl.BodySchema{Attributes: attrs("mode", "retention")}
	raftSchema       = &hcl.BodySchema{Attributes: attrs("heartbeat_interval", "election_timeout")}
	tlsSchema        = &hcl.BodySchema{
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

func attrs(names ...string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		out[i] = hcl.AttributeSchema{Name: n}
	}
	return out
}

// content decodes body against s and records the diagnostics.
func (l *loader) content(body hcl.Body, s *hcl.BodySchema) *hcl.BodyContent {
	c, diags := body.Content(s)
	l.diags = append(l.diags, diags...)
	return c
}

// single returns the only block of type typ, reporting any duplicates.
func (l *loader) single(c *hcl.BodyContent, typ string) *hcl.Block {
	var first *hcl.Block
	for _, b := range c.Blocks {
		if b.Type != typ {
			continue
		}
		if first != nil {
			l.diags = append(l.diags, errAt(b.DefRange, fmt.Sprintf("Duplicate %s block", typ),
				fmt.Sprintf("Only one %s block is allowed here; another was defined at %s.", typ, first.DefRange))...)
			continue
		}
		first = b
	}
	return first
}

// value evaluates attribute name of attrs converted to typ. ok is false
// when the attribute is absent or its value is unusable (already reported).
func (l *loader) value(ctx *hcl.EvalContext, as hcl.Attributes, name string, typ cty.Type) (cty.Value, *hcl.Attribute, bool) {
	a, ok := as[name]
	if !ok {
		return cty.NilVal, nil, false
	}
	v, diags := a.Expr.Value(ctx)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, a, false
	}
	if v.IsWhollyKnown() && isSensitive(v) {
		l.refuseSensitive(a, name)
		return cty.NilVal, a, false
	}
	if typ != cty.DynamicPseudoType {
		cv, err := convert.Convert(v, typ)
		if err != nil {
			l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
				Detail:  fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, err),
				Subject: a.Expr.Range().Ptr(), Expression: a.Expr, EvalContext: ctx})
			return cty.NilVal, a, false
		}
		v = cv
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, a, false // an error upstream (e.g. a bad variable) was reported
	}
	if v.IsNull() {
		return cty.NilVal, a, false // null means "leave the default"
	}
	return v, a, true
}

// str decodes a string attribute. A value holding a control character
// (see ControlRune) is reported and left out, as if the attribute were absent.
func (l *loader) str(ctx *hcl.EvalContext, as hcl.Attributes, name string, dst *string) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.String)
	if ok && l.checkChars(a, name, v.AsString()) {
		*dst = v.AsString()
		return a
	}
	return nil
}

func (l *loader) boolean(ctx *hcl.EvalContext, as hcl.Attributes, name string, dst *bool) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.Bool)
	if ok {
		*dst = v.True()
		return a
	}
	return nil
}

// integer decodes a whole number within [lo, hi].
func (l *loader) integer(ctx *hcl.EvalContext, as hcl.Attributes, name string, lo, hi int64, dst *int64) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.Number)
	if !ok {
		return nil
	}
	i, exact := valueInt64(v)
	if !exact || i < lo || i > hi {
		l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid number",
			fmt.Sprintf("The %s must be a whole number between %d and %d.", name, lo, hi))...)
		return nil
	}
	*dst = i
	return a
}

func (l *loader) size(ctx *hcl.EvalContext, as hcl.Attributes, name string, dst *int64) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.DynamicPseudoType)
	if !ok {
		return nil
	}
	i, diags := sizeValue(v, a.Expr.Range(), name)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	*dst = i
	return a
}

func (l *loader) duration(ctx *hcl.EvalContext, as hcl.Attributes, name string, plain time.Duration, dst *time.Duration) *hcl.Attribute {
	v, a, ok := l.value(ctx, as, name, cty.DynamicPseudoType)
	if !ok {
		return nil
	}
	d, diags := durationValue(v, a.Expr.Range(), name, plain)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	*dst = d
	return a
}

// oneOf checks that a decoded string attribute is one of allowed.
func (l *loader) oneOf(a *hcl.Attribute, name, val string, allowed ...string) bool {
	for _, x := range allowed {
		if val == x {
			return true
		}
	}
	l.diags = append(l.diags, errAt(a.Expr.Range(), fmt.Sprintf("Invalid %s", strings.ReplaceAll(name, "_", " ")),
		fmt.Sprintf("The %s must be one of %s, not %q.%s", name, quoteList(allowed), val, suggestion(val, allowed)))...)
	return false
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// suggestion returns ` Did you mean "x"?` for the closest of candidates, or "".
func suggestion(given string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist && d < len(c) {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// localPath resolves p against the configuration directory.
func (l *loader) localPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.cfg.Dir, p)
}

// defaultKnownHostsFile is OpenSSH's default, ~/.ssh/known_hosts, or ""
// (plan then says no known_hosts file was given) without a home directory.
func defaultKnownHostsFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ssh", "known_hosts")
}

// mustExist reports a missing local file. Key files go through here too:
// they are only stat'ed, never read.
func (l *loader) mustExist(path string, rng hcl.Range, what string) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		l.diags = append(l.diags, errAt(rng, "File not found",
			fmt.Sprintf("The %s %s does not exist or cannot be read: %s.", what, path, rootCause(err)))...)
	case st.IsDir():
		l.diags = append(l.diags, errAt(rng, "File not found", fmt.Sprintf("The %s %s is a directory, not a file.", what, path))...)
	}
}

// hostPath checks a path on a member's host: absolute, clean, and free of
// characters a shell, YAML or a unit file would read specially.
func (l *loader) hostPath(a *hcl.Attribute, name, p string) {
	if a == nil {
		return
	}
	switch why := hostPathProblem(p); {
	case why == "":
	case !strings.HasPrefix(p, "/"):
		l.diags = append(l.diags, errAt(a.Expr.Range(), "Relative path on host",
			fmt.Sprintf("The %s %q is a path on the member's host and must be absolute.", name, p))...)
	default:
		l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid path on host",
			fmt.Sprintf("The %s %q is a path on the member's host and %s.", name, p, why))...)
	}
}

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
	if blk := l.single(content, "backup"); blk != nil {
		c.Backup = l.backup(ctx, blk, c)
	}
	l.checkCluster(c, ftAttr, as)
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

// connection decodes the cluster connection block (base == nil) or a
// member's override on top of base.
func (l *loader) connection(ctx *hcl.EvalContext, blk *hcl.Block, base *Connection, fallback hcl.Range) Connection {
	var conn Connection
	if base == nil {
		conn = Connection{User: DefaultUser, Port: DefaultSSHPort, Timeout: DefaultSSHTimeout, KnownHostsFile: defaultKnownHostsFile()}
	} else {
		conn = *base
		if base.Bastion != nil {
			b := *base.Bastion
			conn.Bastion = &b
		}
	}
	if blk == nil {
		if base == nil {
			l.checkConnection(&conn, nil, nil, nil, fallback)
		}
		return conn
	}
	content := l.content(blk.Body, connectionSchema)
	as := content.Attributes
	if a := l.str(ctx, as, "user", &conn.User); !l.checkValue(a, "Invalid SSH user", "user", conn.User, userProblem(conn.User)) {
		conn.User = ""
	}
	var port int64 = int64(conn.Port)
	if l.integer(ctx, as, "port", 1, 65535, &port) != nil {
		conn.Port = int(port)
	}
	var key string
	keyAttr := l.str(ctx, as, "private_key_file", &key)
	agentAttr := l.boolean(ctx, as, "agent", &conn.Agent)
	if keyAttr != nil {
		conn.PrivateKeyFile = l.localPath(key)
		if agentAttr == nil {
			conn.Agent = false
		}
	} else if agentAttr != nil && conn.Agent {
		conn.PrivateKeyFile = ""
	}
	var kh string
	khAttr := l.str(ctx, as, "known_hosts_file", &kh)
	if khAttr != nil {
		conn.KnownHostsFile = l.localPath(kh)
	}
	l.boolean(ctx, as, "sudo", &conn.Sudo)
	l.duration(ctx, as, "timeout", time.Second, &conn.Timeout)
	var bastionAttr *hcl.Attribute
	if bb := l.single(content, "bastion"); bb != nil {
		bc := l.content(bb.Body, bastionSchema)
		b := &Bastion{Port: DefaultSSHPort, User: conn.User}
		if a := l.str(ctx, bc.Attributes, "host", &b.Host); a != nil {
			b.Host = l.checkHost(a, "bastion host", b.Host)
		}
		var bport int64 = DefaultSSHPort
		if l.integer(ctx, bc.Attributes, "port", 1, 65535, &bport) != nil {
			b.Port = int(bport)
		}
		if a := l.str(ctx, bc.Attributes, "user", &b.User); !l.checkValue(a, "Invalid SSH user", "bastion user", b.User, userProblem(b.User)) {
			b.User = ""
		}
		var bkey string
		if bastionAttr = l.str(ctx, bc.Attributes, "private_key_file", &bkey); bastionAttr != nil {
			b.PrivateKeyFile = l.localPath(bkey)
		}
		conn.Bastion = b
	}
	if !l.rejected[as["private_key_file"]] && !l.rejected[as["known_hosts_file"]] {
		l.checkConnection(&conn, keyAttr, khAttr, bastionAttr, blk.DefRange)
	}
	return conn
}

// checkConnection checks credentials and the files they name. It runs
// for the cluster defaults and again for each member override.
func (l *loader) checkConnection(conn *Connection, keyAttr, khAttr, bastionAttr *hcl.Attribute, rng hcl.Range) {
	switch {
	case conn.PrivateKeyFile != "" && conn.Agent:
		r := rng
		if keyAttr != nil {
			r = keyAttr.Range
		}
		l.diags = append(l.diags, errAt(r, "Conflicting SSH credentials",
			"Set either private_key_file or agent = true, not both.")...)
	case conn.PrivateKeyFile == "" && !conn.Agent:
		l.diags = append(l.diags, errAt(rng, "No SSH credentials",
			"The connection needs private_key_file or agent = true.")...)
	}
	if keyAttr != nil && conn.PrivateKeyFile != "" {
		l.mustExist(conn.PrivateKeyFile, keyAttr.Expr.Range(), "private key file")
	}
	// The default known_hosts (~/.ssh/known_hosts) belongs to whoever runs
	// plan: validate checks the language, and plan reads the file.
	if khAttr != nil {
		l.mustExist(conn.KnownHostsFile, khAttr.Expr.Range(), "known_hosts file")
	}
	if bastionAttr != nil {
		l.mustExist(conn.Bastion.PrivateKeyFile, bastionAttr.Expr.Range(), "bastion private key file")
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

func (l *loader) backup(ctx *hcl.EvalContext, blk *hcl.Block, c *Cluster) *Backup {
	content := l.content(blk.Body, backupSchema)
	as := content.Attributes
	b := &Backup{}
	if a := l.str(ctx, as, "schedule", &b.Schedule); a != nil {
		if err := cron.Parse(b.Schedule); err != nil {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid cron expression",
				fmt.Sprintf("The schedule %q does not parse: %s.", b.Schedule, err))...)
		} else if fires, err := cron.Fires(b.Schedule); err == nil && !fires {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Schedule never fires",
				fmt.Sprintf("The schedule %q matches no date (its day of month never falls in its months, as with February 30th), so no backup would ever be made. Fix the day of month or the month field.", b.Schedule))...)
		} else if f, err := cron.Expand(b.Schedule); err == nil && c.Service.Manager == "systemd" && !f.AnyDay && !f.AnyWeekday {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Schedule a systemd timer cannot express",
				fmt.Sprintf("The schedule %q restricts both the day of month and the day of week. cron runs the job when either matches, but the systemd timer that service.manager = \"systemd\" installs runs it only when both do. Restrict one of the two.", b.Schedule))...)
		}
	}
	if v, a, ok := l.value(ctx, as, "on", cty.List(cty.String)); ok {
		names := make([]string, 0, len(c.Members))
		for _, m := range c.Members {
			names = append(names, m.Name)
		}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				continue
			}
			n := e.AsString()
			b.On = append(b.On, n)
			if c.Member(n) == nil {
				l.diags = append(l.diags, errAt(a.Expr.Range(), "Unknown backup member",
					fmt.Sprintf("The backup runs on %q, but cluster %s has no member of that name.%s", n, c.Name, suggestion(n, names)))...)
			}
		}
		if len(b.On) == 0 {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "No backup member", "The on list must name at least one member whose host runs the backup.")...)
		}
	}
	destAttr := l.str(ctx, as, "destination", &b.Destination)
	l.checkValue(destAttr, "Invalid backup destination", "destination", b.Destination, destinationProblem(b.Destination))
	var keep int64
	if l.integer(ctx, as, "keep_last", 0, 100000, &keep) != nil {
		b.KeepLast = int(keep)
	}
	l.duration(ctx, as, "max_age", time.Second, &b.MaxAge)
	l.boolean(ctx, as, "allow_unencrypted", &b.AllowUnencrypted)
	if eb := l.single(content, "encryption"); eb != nil {
		ea := l.content(eb.Body, encryptionSchema).Attributes
		if a := l.str(ctx, ea, "recipient", &b.Recipient); a != nil && !validAgeRecipient(b.Recipient) {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid age recipient",
				"The recipient must be an age public key (age1…). Never put the secret key (AGE-SECRET-KEY-…) in the configuration.")...)
		}
	} else if !b.AllowUnencrypted {
		l.diags = append(l.diags, errAt(blk.DefRange, "Unencrypted backup",
			"A snapshot holds every key in etcd. Add an encryption block with an age recipient, or set allow_unencrypted = true.")...)
	}
	if sb := l.single(content, "s3"); sb != nil {
		sa := l.content(sb.Body, s3Schema).Attributes
		b.S3 = &S3Options{}
		if a := l.str(ctx, sa, "endpoint", &b.S3.Endpoint); a != nil {
			l.checkValue(a, "Invalid S3 endpoint", "endpoint", b.S3.Endpoint, endpointProblem(b.S3.Endpoint))
		}
		if a := l.str(ctx, sa, "region", &b.S3.Region); a != nil {
			l.checkValue(a, "Invalid S3 region", "region", b.S3.Region, regionProblem(b.S3.Region))
		}
		l.boolean(ctx, sa, "path_style", &b.S3.PathStyle)
		var src string
		if a := l.str(ctx, sa, "credentials_source", &src); a != nil {
			b.S3.CredentialsSource = l.localPath(src)
			l.mustExist(b.S3.CredentialsSource, a.Expr.Range(), "S3 credentials source")
		}
		if destAttr != nil && !strings.HasPrefix(b.Destination, "s3://") {
			l.diags = append(l.diags, errAt(sb.DefRange, "S3 options without S3 destination",
				"The s3 block applies only to an s3:// destination.")...)
		}
	}
	return b
}

func validAgeRecipient(s string) bool {
	if !strings.HasPrefix(s, "age1") || len(s) < 20 {
		return false
	}
	return strings.Trim(s[4:], "023456789acdefghjklmnpqrstuvwxyz") == ""
}
