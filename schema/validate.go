package schema

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// checkCluster applies the rules that need the whole cluster decoded.
func (l *loader) checkCluster(c *Cluster, ftAttr *hcl.Attribute, as hcl.Attributes) {
	n := len(c.Members)
	switch {
	case n == 0:
		l.diags = append(l.diags, errAt(c.DeclRange, "Cluster without members",
			fmt.Sprintf("The cluster %s needs between 1 and %d member blocks.", c.Name, MaxMembers))...)
	case n > MaxMembers:
		l.diags = append(l.diags, errAt(c.Members[MaxMembers].DeclRange, "Too many members",
			fmt.Sprintf("The cluster %s has %d members; etcd clusters have at most %d, because every write waits for a majority.", c.Name, n, MaxMembers))...)
	case n%2 == 0 && !c.AllowEven:
		l.diags = append(l.diags, warnAt(c.DeclRange, "Even number of members",
			fmt.Sprintf("The cluster %s has %d members, which tolerates no more failures than %d members. Add or remove one, or set allow_even = true.", c.Name, n, n-1))...)
	}
	if ftAttr != nil && n > 0 && c.FaultTolerance > (n-1)/2 {
		l.diags = append(l.diags, errAt(ftAttr.Expr.Range(), "Fault tolerance too high",
			fmt.Sprintf("A cluster of %d members survives at most %d failures; fault_tolerance = %d cannot be met.", n, (n-1)/2, c.FaultTolerance))...)
	}

	type hostKey struct {
		host string
		port int
	}
	hosts := map[hostKey]*Member{}
	for _, m := range c.Members {
		if m.Host == "" {
			continue
		}
		k := hostKey{m.Host, m.Connection.Port}
		if prev, dup := hosts[k]; dup {
			l.diags = append(l.diags, errAt(l.memberAttrRange(m, "host"), "Duplicate member host",
				fmt.Sprintf("The members %s and %s of cluster %s both use host %s on SSH port %d; they would share a service and data directory. The other was defined at %s.", prev.Name, m.Name, c.Name, m.Host, k.port, prev.DeclRange))...)
			continue
		}
		hosts[k] = m
	}
	for _, m := range c.Members {
		var clientTLS, peerTLS bool
		if m.TLS != nil {
			clientTLS, peerTLS = m.TLS.Client != nil, m.TLS.Peer != nil
		}
		l.checkURL(m, "peer_url", m.PeerURL, peerTLS, c.TLS != nil)
		l.checkURL(m, "client_url", m.ClientURL, clientTLS, c.TLS != nil)
	}
}

// memberAttrRange returns the range of a member's attribute expression, or
// the member's header when the attribute was defaulted.
func (l *loader) memberAttrRange(m *Member, name string) hcl.Range {
	if r, ok := l.attrRanges[m][name]; ok {
		return r
	}
	return m.DeclRange
}

func (l *loader) checkURL(m *Member, attr, raw string, tls, clusterTLS bool) {
	if raw == "" {
		return
	}
	rng := l.memberAttrRange(m, attr)
	u, err := url.Parse(raw)
	if err != nil {
		hint := ""
		if strings.Count(raw, ":") > 2 {
			hint = " Write an IPv6 address in brackets, as in http://[fd00::1]:2380."
		}
		l.diags = append(l.diags, errAt(rng, "Invalid URL", fmt.Sprintf("The %s %q does not parse: %s.%s", attr, raw, err, hint))...)
		return
	}
	want := "http"
	if tls {
		want = "https"
	}
	if u.Scheme != want {
		why := "the cluster has no tls block"
		if tls {
			why = "the cluster's tls block configures this side"
		} else if clusterTLS {
			why = "the cluster's tls block does not configure this side"
		}
		l.diags = append(l.diags, errAt(rng, "Wrong URL scheme",
			fmt.Sprintf("The %s %q must use %s://, because %s.", attr, raw, want, why))...)
		return
	}
	if u.Host == "" || u.Port() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		l.diags = append(l.diags, errAt(rng, "Invalid URL",
			fmt.Sprintf("The %s %q must have the form %s://host:port, with no path, query or user.", attr, raw, want))...)
		return
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		l.diags = append(l.diags, errAt(rng, "Invalid URL", fmt.Sprintf("The %s %q has an invalid port.", attr, raw))...)
		return
	}
	if _, why := hostProblem(u.Hostname()); why != "" {
		l.diags = append(l.diags, errAt(rng, "Invalid URL", fmt.Sprintf("The %s %q has a host that %s.", attr, raw, why))...)
	}
}

// validate applies the rules across clusters: unique cluster names, URLs
// and host:port pairs.
func (l *loader) validate() {
	names := map[string]*Cluster{}
	type use struct {
		c    *Cluster
		m    *Member
		attr string
		url  string
	}
	urls := map[string]use{}
	hostPorts := map[string]use{}
	for _, c := range l.cfg.Clusters {
		if prev, dup := names[c.Name]; dup {
			l.diags = append(l.diags, errAt(c.DeclRange, "Duplicate cluster block",
				fmt.Sprintf("Another cluster named %s was defined at %s.", c.Name, prev.DeclRange))...)
		} else {
			names[c.Name] = c
		}
		for _, m := range c.Members {
			for _, x := range []struct{ attr, raw string }{{"peer_url", m.PeerURL}, {"client_url", m.ClientURL}} {
				u, err := url.Parse(x.raw)
				if x.raw == "" || err != nil || u.Port() == "" {
					continue
				}
				cur := use{c, m, x.attr, x.raw}
				if prev, dup := urls[x.raw]; dup {
					l.diags = append(l.diags, errAt(l.memberAttrRange(m, x.attr), "Duplicate URL",
						fmt.Sprintf("The URL %s is also the %s of member %s in cluster %s (%s).", x.raw, prev.attr, prev.m.Name, prev.c.Name, prev.m.DeclRange))...)
					continue
				}
				urls[x.raw] = cur
				hp := net.JoinHostPort(u.Hostname(), u.Port())
				if prev, dup := hostPorts[hp]; dup {
					l.diags = append(l.diags, errAt(l.memberAttrRange(m, x.attr), "Duplicate host and port",
						fmt.Sprintf("The %s %s listens on %s, which the %s of member %s in cluster %s (%s) already uses.", x.attr, x.raw, hp, prev.attr, prev.m.Name, prev.c.Name, prev.m.DeclRange))...)
					continue
				}
				hostPorts[hp] = cur
			}
		}
	}
}
