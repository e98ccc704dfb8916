// Package render renders etcd's config file for a member of the
// configuration (schema), with internal/etcdconf's types. It is apart from
// etcdconf so that what only reads, writes and checks config files (apply)
// does not depend on the configuration's model.
package render

import (
	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/schema"
)

// Member returns the config file wanted for member m of cluster c.
func Member(c *schema.Cluster, m *schema.Member, b etcdconf.Bootstrap) *etcdconf.File {
	f := &etcdconf.File{
		Name:                     m.Name,
		DataDir:                  c.Service.DataDir,
		ListenPeerURLs:           m.PeerURL,
		ListenClientURLs:         m.ClientURL,
		InitialAdvertisePeerURLs: m.PeerURL,
		AdvertiseClientURLs:      m.ClientURL,
		InitialCluster:           b.InitialCluster,
		InitialClusterToken:      b.Token,
		InitialClusterState:      b.State,
		QuotaBackendBytes:        c.Storage.QuotaBackendBytes,
		SnapshotCount:            c.Storage.SnapshotCount,
		MaxRequestBytes:          c.Storage.MaxRequestBytes,
		HeartbeatInterval:        c.Raft.HeartbeatInterval.Milliseconds(),
		ElectionTimeout:          c.Raft.ElectionTimeout.Milliseconds(),
		AutoCompactionMode:       c.Compaction.Mode,
		AutoCompactionRetention:  c.Compaction.Retention,
		Logger:                   "zap",
		LogLevel:                 "info",
	}
	if t := m.TLS; t != nil {
		if t.Client != nil {
			f.ClientTransportSecurity = security(t.Client)
		}
		if t.Peer != nil {
			f.PeerTransportSecurity = security(t.Peer)
		}
	}
	return f
}

func security(e *schema.TLSEndpoint) *etcdconf.Security {
	return &etcdconf.Security{CertFile: e.Cert.Path, KeyFile: e.Key.Path, TrustedCAFile: e.CA.Path, ClientCertAuth: e.ClientCertAuth}
}
