package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/etcdconf"
	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// bareCluster is cluster lab of three members with an install block, and
// its observation: no endpoint answers, every host reachable and bare (no
// binary, no service, an empty data dir), and the release fetched.
func bareCluster() (*schema.Cluster, *state.Cluster) {
	c := testCluster(1, 2, 3)
	c.Service.Manager = "runit"
	c.Install = &schema.Install{Source: "/rel/v{version}/etcd-v{version}-{os}-{arch}.tar.gz", OS: "linux", Arch: "amd64"}
	oc := &state.Cluster{Name: "lab", Error: "context deadline exceeded", Hosts: map[string]*state.Host{},
		Release: &state.Release{Version: "3.6.16", Source: "/rel/v3.6.16/etcd-v3.6.16-linux-amd64.tar.gz", SHA256: "aa", SumFrom: "/rel/v3.6.16/SHA256SUMS",
			Etcd: state.ReleaseBinary{Path: "/cache/sha256-e1", SHA256: "e1"}, Etcdutl: state.ReleaseBinary{Path: "/cache/sha256-e2", SHA256: "e2"}}}
	for _, m := range c.Members {
		oc.Hosts[m.Name] = &state.Host{Member: m.Name, Address: m.Host, Reachable: true, ServiceState: "unknown",
			DataDirEmpty: true, DataDirBytes: 4096, DataDirExists: true, DataDirMode: 0o700}
	}
	return c, oc
}

// TestBootstrap plans a new cluster on bare hosts: per member the binary,
// the service and the config (initial-cluster-state new, every member, a
// token derived from the plan), then a start of each; and refuses when any
// host shows a cluster, or the artifact failed its check.
func TestBootstrap(t *testing.T) {
	meta := Meta{Time: time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)}
	c, oc := bareCluster()
	p := Make(config(c), observed(oc), Options{Meta: meta})
	var want []string
	for _, m := range []string{"etcd-1", "etcd-2", "etcd-3"} {
		want = append(want, "install-binary "+m+" 0/0", "install-service "+m+" 0/0", "write-config "+m+" 0/0")
	}
	want = append(want, "bootstrap-start etcd-1 0/0", "bootstrap-start etcd-2 0/0", "bootstrap-start etcd-3 0/0")
	if diff := cmp.Diff(want, brief(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if len(p.Refusals) != 0 || len(p.Warnings) != 1 || p.Warnings[0].Summary != "New cluster" {
		t.Errorf("refusals %v, warnings %v", summaries(p.Refusals), summaries(p.Warnings))
	}
	token := BootstrapToken("lab", meta)
	if !strings.HasPrefix(token, "lab-") || len(token) != len("lab-")+16 {
		t.Errorf("token %q", token)
	}
	for _, s := range p.Steps {
		switch s.Action {
		case WriteConfig:
			f, err := etcdconf.Parse(s.Config)
			if err != nil || f.File.InitialClusterState != "new" || f.File.InitialClusterToken != token ||
				f.File.InitialCluster != "etcd-1=http://10.0.0.1:2380,etcd-2=http://10.0.0.2:2380,etcd-3=http://10.0.0.3:2380" {
				t.Errorf("config of %s: %+v %v", s.Member, f, err)
			}
		case InstallBinary:
			if len(s.Uploads) != 2 || s.Uploads[0].Source != "/cache/sha256-e1" || s.Uploads[0].Path != "/usr/local/bin/etcd" ||
				s.Uploads[1].Path != "/usr/local/bin/etcdutl" || s.Uploads[1].SHA256 != "e2" || s.Uploads[0].Mode != 0o755 {
				t.Errorf("uploads %+v", s.Uploads)
			}
		case InstallService:
			if !strings.Contains(string(s.Config), "exec chpst -o 65536 -u etcd /usr/local/bin/etcd --config-file /etc/etcd/etcd.conf.yml") ||
				s.Target == nil || s.Target.Service.User != "etcd" {
				t.Errorf("service of %s:\n%s", s.Member, s.Config)
			}
		}
	}
	// Apply's re-check plans again later with the saved plan's token.
	again := Make(config(c), observed(oc), Options{Meta: Meta{Time: meta.Time.Add(time.Minute)}, Tokens: PinTokens(p.Steps)})
	if diffs := CompareSteps(p.Steps, again.Steps); len(diffs) > 0 {
		t.Errorf("with the token pinned, the steps differ: %v", diffs)
	}
	if other := Make(config(c), observed(oc), Options{Meta: Meta{Time: meta.Time.Add(time.Minute)}}); len(CompareSteps(p.Steps, other.Steps)) == 0 {
		t.Error("a plan made at another time has the same token")
	}

	// What is already in place is not planned again.
	c, oc = bareCluster()
	h := oc.Hosts["etcd-2"]
	h.BinaryVersion = "3.6.16"
	p = Make(config(c), observed(oc), Options{Meta: meta})
	if got := brief(p); got[0] != "install-binary etcd-1 0/0" || got[3] != "install-service etcd-2 0/0" {
		t.Errorf("steps %v: etcd-2's binary is installed again", got)
	}

	cases := map[string]struct {
		mutate  func(oc *state.Cluster)
		summary string
		detail  string
	}{
		"a stray data dir": {func(oc *state.Cluster) { h := oc.Hosts["etcd-2"]; h.DataDirEmpty, h.DataDirBytes = false, 123456 },
			"Bootstrap refused", "the data dir /var/lib/etcd of etcd-2 on 10.0.0.2 holds data (123456 bytes)"},
		"a peer port in use": {func(oc *state.Cluster) { oc.Hosts["etcd-3"].PeerPortInUse = true },
			"Bootstrap refused", "something answers on the peer port of etcd-3 (http://10.0.0.3:2380)"},
		"every host holds data": {func(oc *state.Cluster) {
			for _, h := range oc.Hosts {
				h.DataDirEmpty, h.ServiceState = false, "running"
			}
		}, "Cluster not reachable", "context deadline exceeded"},
		"a host unreachable": {func(oc *state.Cluster) {
			oc.Hosts["etcd-1"].Reachable, oc.Hosts["etcd-1"].Error = false, "no route to host"
		},
			"Cluster not reachable", "the host of etcd-1 (10.0.0.1) cannot be reached over SSH (no route to host)"},
		"every data dir emptied, the configs left (a total loss without backups)": {func(oc *state.Cluster) {
			for _, h := range oc.Hosts {
				h.BinaryVersion, h.ServiceState = "3.6.16", "stopped"
				h.ConfigExists, h.Config = true, &etcdconf.File{Name: h.Member, InitialClusterToken: "lab-0123456789abcdef"}
			}
		}, "Cluster data gone", "/etc/etcd/etcd.conf.yml on the host of etcd-1 (10.0.0.1) holds the etcd config of a cluster (initial-cluster-token lab-0123456789abcdef)"},
		"one config left, unparsed": {func(oc *state.Cluster) { oc.Hosts["etcd-3"].ConfigExists = true },
			"Cluster data gone", "/etc/etcd/etcd.conf.yml on the host of etcd-3 (10.0.0.3) holds an etcd config: etcd was set up there before"},
		"a tampered artifact": {func(oc *state.Cluster) {
			oc.Release = &state.Release{Version: "3.6.16", Error: "release: sha256 mismatch: ... has sha256 bb, SHA256SUMS says aa"}
		}, "Install artifact refused", "sha256 mismatch"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, oc := bareCluster()
			tc.mutate(oc)
			p := Make(config(c), observed(oc), Options{Meta: meta})
			if len(p.Steps) != 0 {
				t.Errorf("steps %v, want none", brief(p))
			}
			if len(p.Refusals) != 1 || p.Refusals[0].Summary != tc.summary || !strings.Contains(p.Refusals[0].Detail, tc.detail) {
				t.Errorf("refusals %+v, want %q saying %q", p.Refusals, tc.summary, tc.detail)
			}
		})
	}
}
