package lab

import (
	"fmt"
	"strings"

	"github.com/etcdform/etcdform/schema"
)

// model is the lab cluster as etcdform sees it: lab.hcl, which up has
// written, decoded by the schema loader, defaults and all. The lab renders
// member configs and systemd units from it with the renderers apply uses,
// so a plan right after `lab up` is empty.
func (s *State) model() (*schema.Cluster, error) {
	cfg, diags := schema.Load(s.HCLFile(), schema.LoadOptions{})
	if diags.HasErrors() {
		return nil, fmt.Errorf("lab: %s does not load: %s", s.HCLFile(), diags.Error())
	}
	for _, c := range cfg.Clusters {
		if c.Name == ClusterName {
			return c, nil
		}
	}
	return nil, fmt.Errorf("lab: %s has no cluster %q", s.HCLFile(), ClusterName)
}

// hcl renders lab.hcl, the lab's description in etcdform's language.
func (s *State) hcl() string {
	var b strings.Builder
	b.WriteString("# Written by `etcdform lab up`: the running lab, in etcdform's HCL.\n")
	var spares []string
	for _, h := range s.Hosts {
		if !h.Member {
			spares = append(spares, fmt.Sprintf("%s (%s)", h.Name, h.Addr))
		}
	}
	members := s.Members()
	switch {
	case s.Bare():
		fmt.Fprintf(&b, "# Bare hosts (sshd, no etcd): %s. No member runs yet: `etcdform plan` plans\n# the bootstrap of this cluster on them, installing etcd from the install source.\n", strings.Join(spares, ", "))
		members = s.Hosts
	case len(spares) > 0:
		fmt.Fprintf(&b, "# Spare hosts (sshd and the etcd binary, no member yet): %s\n", strings.Join(spares, ", "))
	}
	fmt.Fprintf(&b, `
cluster %q {
  etcd_version = %q

  connection {
    user             = "root"
    private_key_file = "id_ed25519"
    known_hosts_file = "known_hosts"
  }

  service {
    manager     = %q
    name        = %q
    binary      = %q
    config_file = %q
    data_dir    = %q
    user        = "root" # the lab's hosts share this machine's users
  }
`, ClusterName, s.EtcdVersion, s.manager(), ServiceName, EtcdBinary, EtcdConfigFile, EtcdDataDir)
	if s.ReleaseSource != "" {
		fmt.Fprintf(&b, `
  # Every etcd version built on this machine, as release tarballs with a
  # SHA256SUMS beside each (etcdbin.Publish).
  install {
    source = %q
  }
`, s.ReleaseSource)
	}
	if s.TLS {
		b.WriteString(tlsHCL())
	}
	for _, h := range members {
		fmt.Fprintf(&b, `
  member %q {
    host       = %q
    peer_url   = %q
    client_url = %q
  }
`, h.Name, h.Addr, h.PeerURL(), h.ClientURL())
	}
	b.WriteString("}\n")
	return b.String()
}

// manager is the service manager of the lab's hosts, as the schema names it.
func (s *State) manager() string {
	if s.systemd() {
		return "systemd"
	}
	return "runit"
}
