package plan

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/etcdform/etcdform/schema"
)

// HostAddrOf is how to reach member m's host.
func HostAddrOf(m *schema.Member) HostAddr {
	cc := m.Connection
	a := HostAddr{Host: m.Host, Port: cc.Port, User: cc.User, PrivateKeyFile: cc.PrivateKeyFile, Agent: cc.Agent,
		KnownHostsFile: cc.KnownHostsFile, Sudo: cc.Sudo, Timeout: cc.Timeout}
	if b := cc.Bastion; b != nil {
		a.Bastion = &Bastion{Host: b.Host, Port: b.Port, User: b.User, PrivateKeyFile: b.PrivateKeyFile}
	}
	return a
}

// TargetOf is where a step on member m of c acts.
func TargetOf(c *schema.Cluster, m *schema.Member) *Target {
	svc := c.Service
	return &Target{
		Host: HostAddrOf(m),
		Service: Service{Manager: svc.Manager, Name: svc.Name, StartCommand: svc.StartCommand, StopCommand: svc.StopCommand,
			StatusCommand: svc.StatusCommand, RestartCommand: svc.RestartCommand, StopTimeout: svc.StopTimeout, User: svc.User},
		ConfigFile: svc.ConfigFile, DataDir: svc.DataDir, Binary: svc.Binary, Version: c.EtcdVersion,
	}
}

// ClusterTargetOf is how apply reaches c's etcd.
func ClusterTargetOf(c *schema.Cluster) ClusterTarget {
	t := ClusterTarget{Name: c.Name, Backup: c.Backup != nil}
	for _, m := range c.Members {
		t.Endpoints = append(t.Endpoints, m.ClientURL)
	}
	if c.TLS != nil && c.TLS.Tool != nil {
		t.CAFile, t.CertFile, t.KeyFile = c.TLS.Tool.CAFile, c.TLS.Tool.CertFile, c.TLS.Tool.KeyFile
	}
	return t
}

// RemovedMember describes the host of a member that is not in the
// configuration, found from its peer URL and reached with the cluster's
// connection defaults; nil when the URL names no host.
func RemovedMember(c *schema.Cluster, name, peerURL string) *schema.Member {
	u, err := url.Parse(peerURL)
	if err != nil {
		return nil
	}
	hostname := strings.Trim(u.Hostname(), "[]")
	if hostname == "" {
		return nil
	}
	return &schema.Member{Name: name, Host: hostname, PeerURL: peerURL, Connection: c.Connection}
}

// AddTargets fills in, once the steps are made, what apply needs to carry
// them out without the configuration: each cluster's ClusterTarget and
// each member step's Target. A member no longer in the configuration (a
// removal) is reached from its peer URL with the cluster's connection
// defaults; one whose host is down, or that has neither, gets no Target
// (apply then leaves its host alone).
func AddTargets(cfg *schema.Config, p *Plan) {
	clusters := map[string]*schema.Cluster{}
	for _, c := range cfg.Clusters {
		clusters[c.Name] = c
	}
	p.Targets = nil
	for _, name := range p.Clusters {
		if c := clusters[name]; c != nil {
			p.Targets = append(p.Targets, ClusterTargetOf(c))
		}
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		c := clusters[s.Cluster]
		if c == nil || s.Member == "" && s.PeerURL == "" || s.Action == Snapshot {
			continue
		}
		m := c.Member(s.Member)
		if m == nil && s.Member != "" && !s.HostDown {
			m = RemovedMember(c, s.Member, s.PeerURL)
		}
		if m != nil {
			s.Target = TargetOf(c, m)
		}
	}
}

// targetLabel describes t in a difference.
func targetLabel(t *Target) string {
	if t == nil {
		return "none"
	}
	return fmt.Sprintf("%+v", *t)
}

// CompareTargets lists how the cluster targets of a saved plan differ
// from those planned again now.
func CompareTargets(saved, fresh []ClusterTarget) []string {
	var out []string
	if len(saved) != len(fresh) {
		return []string{fmt.Sprintf("the plan names how to reach %d clusters, the configuration gives %d", len(saved), len(fresh))}
	}
	for i := range saved {
		if !reflect.DeepEqual(saved[i], fresh[i]) {
			out = append(out, fmt.Sprintf("how to reach cluster %s differs: %+v in the plan, %+v now", saved[i].Name, saved[i], fresh[i]))
		}
	}
	return out
}
