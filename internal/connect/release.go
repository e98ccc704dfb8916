package connect

import (
	"context"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/release"
	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// Release fetches and checks the cluster's install artifact for
// etcd_version when a desired member's reachable host has another
// version (or none): the planner then installs it. Nil when not needed.
func Release(ctx context.Context, c *schema.Cluster, oc *state.Cluster) *state.Release {
	if c.Install == nil || c.EtcdVersion == "" {
		return nil
	}
	need := false
	for _, m := range c.Members {
		if h := oc.Hosts[m.Name]; h != nil && h.Reachable && h.BinaryVersion != c.EtcdVersion {
			need = true
		}
	}
	if !need {
		return nil
	}
	in := c.Install
	r := &state.Release{Version: c.EtcdVersion, Source: in.Expand(c.EtcdVersion)}
	base, err := etcdbin.CacheBase()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	a, err := release.Fetch(ctx, release.Spec{Source: r.Source, Version: c.EtcdVersion, OS: in.OS, Arch: in.Arch, SHA256: in.SHA256},
		release.Options{CacheDir: filepath.Join(base, "artifacts")})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.SHA256, r.SumFrom = a.SHA256, a.SumFrom
	r.Etcd = state.ReleaseBinary(a.Etcd)
	r.Etcdutl = state.ReleaseBinary(a.Etcdutl)
	return r
}

// dataDirFacts observes what a bootstrap must know of the data dir: does
// it exist, with what mode.
func dataDirFacts(ctx context.Context, cli *sshp.Client, c *schema.Cluster, h *state.Host) {
	if st, err := cli.FileInfo(ctx, c.Service.DataDir); err == nil && st.Exists {
		h.DataDirExists, h.DataDirMode = true, uint32(st.Mode.Perm())
	}
}

// peerPortFacts observes whether something listens on the member's peer
// port, which a bootstrap must not start beside. (The service definition
// etcdform would install is read by fileFacts.)
func peerPortFacts(ctx context.Context, cli *sshp.Client, m *schema.Member, h *state.Host) {
	if u, err := url.Parse(m.PeerURL); err == nil {
		if port, err := strconv.Atoi(u.Port()); err == nil {
			if h.PeerPortInUse, err = cli.PeerPortInUse(ctx, port); err != nil {
				h.PeerPortError = err.Error()
			}
		}
	}
}
