package apply

import (
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/state"
)

// TestRunBootstrap: a plan that creates a cluster (no cluster ID observed)
// takes the hosts' apply locks instead of the in-cluster one, which no
// cluster can grant yet, and gates the batch of bootstrap-starts once,
// after the last: none of the members is healthy alone.
func TestRunBootstrap(t *testing.T) {
	obs := &state.Observed{Clusters: map[string]*state.Cluster{"lab": {Name: "lab", Hosts: map[string]*state.Host{
		"a": {Reachable: true}, "b": {Reachable: true}, "c": {Reachable: true},
	}}}}
	p := &plan.Plan{Clusters: []string{"lab"}, Meta: plan.Meta{ConfigHash: "h"}, Fingerprint: state.FingerprintOf(obs)}
	for _, m := range []string{"a", "b", "c"} {
		p.Steps = append(p.Steps, plan.Step{Action: plan.InstallService, Cluster: "lab", Member: m, Config: []byte("unit")})
	}
	for _, m := range []string{"a", "b", "c"} {
		p.Steps = append(p.Steps, plan.Step{Action: plan.BootstrapStart, Cluster: "lab", Member: m})
	}
	w := &fakeWorld{leader: 1, obs: obs}
	cfg := testConfig()
	cfg.Clusters[0].Service.Manager, cfg.Clusters[0].Service.Name, cfg.Clusters[0].Service.User = "systemd", "etcd", "etcd"
	_, err := Run(t.Context(), withTargets(cfg, p), fakeConn{w}, Options{
		SnapshotDir: t.TempDir(), Audit: NewAudit(io.Discard, "planhash", "abc", "me"), Now: func() time.Time { return time.Unix(0, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"host-lock a", "host-lock b", "host-lock c",
		"install-service a", "install-service b", "install-service c",
		"enable a", "launch a", "enable b", "launch b", "enable c", "launch c", "gate",
		"hashkv", "put-audit", "host-unlock a", "host-unlock b", "host-unlock c"}
	if diff := cmp.Diff(want, hostLocksSorted(w.calls)); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	for _, o := range w.ops {
		if o.Op == "install-service" && (o.Service.Path != "/etc/systemd/system/etcd.service" || string(o.Service.Definition) != "unit" || o.Service.DataDir != "/var/lib/etcd" || o.Service.User != "etcd") {
			t.Errorf("install-service %+v", o.Service)
		}
	}
}
