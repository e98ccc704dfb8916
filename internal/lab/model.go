package lab

import (
	"fmt"
	"strings"
	"time"

	"github.com/etcdform/etcdform/schema"
)

// model is the lab cluster as the schema would decode lab.hcl: etcd's
// defaults everywhere, the hosts' init (runit or systemd) as the service
// manager. The lab renders member configs from it with the same renderer
// apply uses, so a plan right after `lab up` is empty.
func (s *State) model() *schema.Cluster {
	conn := schema.Connection{
		User: "root", Port: SSHPort,
		PrivateKeyFile: s.KeyFile(), KnownHostsFile: s.KnownHostsFile(),
		Timeout: 10 * time.Second,
	}
	c := &schema.Cluster{
		Name:           ClusterName,
		EtcdVersion:    s.EtcdVersion,
		FaultTolerance: -1,
		Connection:     conn,
		Service: schema.Service{
			Manager: s.manager(), Name: ServiceName, Binary: EtcdBinary,
			ConfigFile: EtcdConfigFile, DataDir: EtcdDataDir,
			StopTimeout: 19 * time.Second,
		},
		Storage:    schema.Storage{QuotaBackendBytes: 2 << 30, SnapshotCount: 10000, MaxRequestBytes: 1572864},
		Compaction: schema.Compaction{Mode: "periodic", Retention: "0s"},
		Raft:       schema.Raft{HeartbeatInterval: 100 * time.Millisecond, ElectionTimeout: time.Second},
	}
	if s.TLS {
		c.TLS = s.clusterTLS()
	}
	for _, h := range s.Members() {
		m := &schema.Member{
			Name: h.Name, Host: h.Addr, PeerURL: h.PeerURL(), ClientURL: h.ClientURL(), Connection: conn,
		}
		if s.TLS {
			m.TLS = s.memberTLS(h)
		}
		c.Members = append(c.Members, m)
	}
	return c
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
	if len(spares) > 0 {
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
  }
`, ClusterName, s.EtcdVersion, s.manager(), ServiceName, EtcdBinary, EtcdConfigFile, EtcdDataDir)
	if s.TLS {
		b.WriteString(tlsHCL())
	}
	for _, h := range s.Members() {
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
