// Package render renders etcd's config file for a member of the
// configuration (schema), with internal/etcdconf's types. It is apart from
// etcdconf so that what only reads, writes and checks config files (apply)
// does not depend on the configuration's model.
package render

import (
	"strings"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/schema"
)

// Member returns the config file wanted for member m of cluster c when it
// runs c's etcd_version (the newest etcd when c names none): MemberFor
// that version. The schema refuses a setting that version has no key
// for, so this cannot fail for a loaded configuration.
func Member(c *schema.Cluster, m *schema.Member, b etcdconf.Bootstrap) *etcdconf.File {
	f, err := MemberFor(c, m, b, c.EtcdVersion)
	if err != nil {
		panic(err) // the schema checked the settings against EtcdVersion
	}
	return f
}

// MemberFor returns the config file wanted for member m of cluster c when
// it runs etcd version (a release version, "3.5.35"; "" for the newest):
// the version-dependent settings (the corruption checks) are written with
// the keys that version reads (etcdconf.KeyFor), so the file of a member
// that an upgrade or a downgrade moves to another version is rendered for
// the version it restarts on. It fails when version has no key for a
// setting c turns on.
func MemberFor(c *schema.Cluster, m *schema.Member, b etcdconf.Bootstrap, version string) (*etcdconf.File, error) {
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
		LogLevel:                 c.Logging.Level,
		LogOutputs:               c.Logging.Outputs,
	}
	if c.Metrics != nil {
		f.Metrics = c.Metrics.Level
		f.ListenMetricsURLs = strings.Join(m.MetricsURLs, ",")
	}
	if cc := c.CorruptionCheck; cc != nil {
		if err := f.SetChecks(etcdconf.Checks{Initial: cc.Initial, CompactHash: cc.CompactHash, CompactHashPeriod: cc.CompactHashPeriod}, version); err != nil {
			return nil, err
		}
	}
	if t := m.TLS; t != nil {
		if t.Client != nil {
			f.ClientTransportSecurity = security(t.Client)
		}
		if t.Peer != nil {
			f.PeerTransportSecurity = security(t.Peer)
		}
	}
	return f, nil
}

func security(e *schema.TLSEndpoint) *etcdconf.Security {
	return &etcdconf.Security{CertFile: e.Cert.Path, KeyFile: e.Key.Path, TrustedCAFile: e.CA.Path, ClientCertAuth: e.ClientCertAuth}
}
