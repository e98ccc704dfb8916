package schema

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/etcdform/etcdform/internal/etcdconf"
)

// Metrics is the `metrics` block: etcd's metrics detail and its extra
// listeners for /metrics and /health (each member's are in
// Member.MetricsURLs).
type Metrics struct {
	Level string // "basic" (etcd's default) | "extensive"
}

// Logging is the `logging` block.
type Logging struct {
	Level string // etcd's log-level; default "info"
	// Outputs are etcd's log-outputs: "stderr", "stdout", "default",
	// "journal" or an absolute file path on the host; nil: etcd's default.
	Outputs []string
}

// CorruptionCheck is the `corruption_check` block: etcd's corruption
// checks, which the renderer writes with the keys the member's etcd
// version reads (internal/etcdconf/keys.go). Each is off unless set, as
// in etcd.
type CorruptionCheck struct {
	// Initial: a starting member compares its hash with its peers' before
	// it serves.
	Initial bool
	// CompactHash: the leader compares the followers' hashes at each
	// compaction, every CompactHashPeriod (default 1m).
	CompactHash       bool
	CompactHashPeriod time.Duration
}

// DefaultLogLevel is etcd's.
const DefaultLogLevel = "info"

var (
	metricsSchema    = &hcl.BodySchema{Attributes: attrs("listen_urls", "level")}
	loggingSchema    = &hcl.BodySchema{Attributes: attrs("level", "outputs")}
	corruptionSchema = &hcl.BodySchema{Attributes: attrs("initial", "compact_hash", "compact_hash_period")}
)

// metrics decodes the metrics block; listen_urls is returned undecoded:
// it is a template evaluated per member (memberMetricsURLs).
func (l *loader) metrics(ctx *hcl.EvalContext, blk *hcl.Block) (*Metrics, *hcl.Attribute) {
	as := l.content(blk.Body, metricsSchema).Attributes
	m := &Metrics{Level: "basic"}
	if a := l.str(ctx, as, "level", &m.Level); a != nil {
		l.oneOf(a, "metrics level", m.Level, "basic", "extensive")
	}
	return m, as["listen_urls"]
}

// memberMetricsURLs evaluates listen_urls for every member of c, with
// member.name and member.host bound, and checks each URL as etcd would
// bind it.
func (l *loader) memberMetricsURLs(ctx *hcl.EvalContext, c *Cluster, a *hcl.Attribute) {
	if a == nil {
		return
	}
	for _, m := range c.Members {
		mctx := ctx.NewChild()
		mctx.Variables = map[string]cty.Value{"member": cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal(m.Name), "host": cty.StringVal(m.Host)})}
		v, _, ok := l.value(mctx, hcl.Attributes{"listen_urls": a}, "listen_urls", cty.List(cty.String))
		if !ok {
			return // reported once, not per member
		}
		var urls []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				continue
			}
			s := e.AsString()
			if !l.checkChars(a, "listen_urls", s) {
				return
			}
			if why := l.metricsURLProblem(c, m, s); why != "" {
				l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid metrics URL",
					fmt.Sprintf("For member %s, the listen_urls value %q %s.", m.Name, s, why))...)
				return
			}
			for _, prev := range urls {
				if prev == s {
					l.diags = append(l.diags, errAt(a.Expr.Range(), "Duplicate metrics URL",
						fmt.Sprintf("For member %s, listen_urls holds %s twice.", m.Name, s))...)
					return
				}
			}
			urls = append(urls, s)
		}
		if len(urls) == 0 {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "No metrics URL",
				"The listen_urls list is empty; leave the attribute out for no metrics listener.")...)
			return
		}
		m.MetricsURLs = urls
	}
}

// metricsURLProblem says what is wrong with s as a listen-metrics-urls
// entry of member m: etcd binds it, so its host is an IP address (or
// localhost), and an https listener serves the member's client
// certificate.
func (l *loader) metricsURLProblem(c *Cluster, m *Member, s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("does not parse: %s", err)
	}
	switch u.Scheme {
	case "http":
	case "https":
		if m.TLS == nil || m.TLS.Client == nil {
			return "uses https://, which etcd serves with the member's client certificate, and the cluster's tls block has no client block"
		}
	default:
		return "must use http:// or https://"
	}
	if u.Host == "" || u.Port() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "must have the form http://IP:port, with no path, query or user"
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		return "has an invalid port"
	}
	host := u.Hostname()
	if host != "localhost" && net.ParseIP(host) == nil {
		return "must name an IP address (or localhost): etcd binds to it and refuses a host name (\"expected IP in URL for binding\")"
	}
	for _, x := range []struct{ attr, raw string }{{"peer_url", m.PeerURL}, {"client_url", m.ClientURL}} {
		o, err := url.Parse(x.raw)
		if err != nil || o.Port() != u.Port() {
			continue
		}
		if oh := o.Hostname(); oh == host || unspecified(oh) || unspecified(host) {
			return fmt.Sprintf("listens on the port of the member's %s %s; etcd could not bind both", x.attr, x.raw)
		}
	}
	return ""
}

func unspecified(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsUnspecified()
}

// logLevels are etcd's log levels (--log-level).
var logLevels = []string{"debug", "info", "warn", "error", "panic", "fatal"}

func (l *loader) logging(ctx *hcl.EvalContext, blk *hcl.Block, lg *Logging) {
	as := l.content(blk.Body, loggingSchema).Attributes
	if a := l.str(ctx, as, "level", &lg.Level); a != nil && !l.oneOf(a, "log level", lg.Level, logLevels...) {
		lg.Level = DefaultLogLevel
	}
	v, a, ok := l.value(ctx, as, "outputs", cty.List(cty.String))
	if !ok {
		return
	}
	var outs []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			continue
		}
		s := e.AsString()
		if !l.checkChars(a, "outputs", s) {
			return
		}
		switch s {
		case "stderr", "stdout", "default", "journal":
		default:
			if p := hostPathProblem(s); p != "" {
				l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid log output",
					fmt.Sprintf("The log output %q is neither stderr, stdout, default nor journal, and as a file path on the host it %s.", s, p))...)
				return
			}
		}
		for _, prev := range outs {
			if prev == s {
				l.diags = append(l.diags, errAt(a.Expr.Range(), "Duplicate log output", fmt.Sprintf("The outputs list holds %q twice.", s))...)
				return
			}
		}
		outs = append(outs, s)
	}
	if len(outs) == 0 {
		l.diags = append(l.diags, errAt(a.Expr.Range(), "No log output",
			"The outputs list is empty; leave the attribute out for etcd's default (stderr).")...)
		return
	}
	lg.Outputs = outs
}

func (l *loader) corruptionCheck(ctx *hcl.EvalContext, blk *hcl.Block, c *Cluster) {
	as := l.content(blk.Body, corruptionSchema).Attributes
	cc := &CorruptionCheck{}
	c.CorruptionCheck = cc
	ia := l.boolean(ctx, as, "initial", &cc.Initial)
	ca := l.boolean(ctx, as, "compact_hash", &cc.CompactHash)
	if pa := l.duration(ctx, as, "compact_hash_period", time.Second, &cc.CompactHashPeriod); pa != nil {
		switch {
		case !cc.CompactHash:
			l.diags = append(l.diags, errAt(pa.NameRange, "Period without compact hash check",
				"The compact_hash_period sets how often the compact hash check runs; set compact_hash = true as well, or leave the period out.")...)
		case cc.CompactHashPeriod < time.Second:
			l.diags = append(l.diags, errAt(pa.Expr.Range(), "Compact hash period too short",
				"The compact_hash_period must be at least 1s (etcd refuses 0; each check asks every follower for a hash).")...)
		}
	}
	if cc.CompactHash && cc.CompactHashPeriod == 0 {
		cc.CompactHashPeriod = time.Minute // etcd's default
	}
	// The wanted version must have a key for each check: the renderer
	// writes the checks with that version's keys.
	if c.EtcdVersion == "" {
		return
	}
	for _, x := range []struct {
		on bool
		a  *hcl.Attribute
		s  etcdconf.Setting
	}{{cc.Initial, ia, etcdconf.InitialCorruptCheck}, {cc.CompactHash, ca, etcdconf.CompactHashCheck}} {
		if x.on {
			if _, ok := etcdconf.KeyFor(x.s, c.EtcdVersion); !ok {
				l.diags = append(l.diags, errAt(x.a.Expr.Range(), "Check not in this etcd version",
					fmt.Sprintf("etcd %s has no %s; %s. Set etcd_version to a version that has it, or leave the check off.", c.EtcdVersion, x.s, sinceKey(x.s)))...)
			}
		}
	}
}

// sinceKey says from which version etcd has a key for s.
func sinceKey(s etcdconf.Setting) string {
	oldest := ""
	for _, r := range etcdconf.Keys() {
		if r.Setting == s && (oldest == "" || r.Since < oldest) {
			oldest = r.Since
		}
	}
	return "etcd has it from " + oldest
}
