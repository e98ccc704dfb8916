package plan_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// TestTargets: Make fills in what apply needs (issue 14 #3): each member
// step's host, service and paths, a removed member's host from its peer
// URL with the cluster's connection defaults, and each cluster's
// endpoints and tool TLS paths.
func TestTargets(t *testing.T) {
	want := testCluster(1, 2, 4)
	want.Service.Manager, want.Service.StopTimeout = "runit", 20*time.Second
	want.Connection = schema.Connection{User: "ops", Port: 2222, PrivateKeyFile: "/keys/id", KnownHostsFile: "/keys/known_hosts", Sudo: true,
		Bastion: &schema.Bastion{Host: "jump", Port: 22, User: "j"}}
	for _, m := range want.Members {
		m.Connection = want.Connection
	}
	want.TLS = &schema.TLS{Tool: &schema.ToolTLS{CAFile: "/pki/ca.pem", CertFile: "/pki/tool.pem", KeyFile: "/pki/tool-key.pem"}}
	p := Make(config(want), withNewHost(observe(testCluster(1, 2, 3), 1), 4), Options{})

	if diff := cmp.Diff([]ClusterTarget{{Name: "lab", Endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.4:2379"},
		CAFile: "/pki/ca.pem", CertFile: "/pki/tool.pem", KeyFile: "/pki/tool-key.pem"}}, p.Targets); diff != "" {
		t.Errorf("cluster targets (-want +got):\n%s", diff)
	}
	byMember := map[string]*Target{}
	for _, s := range p.Steps {
		if s.Action == Snapshot {
			if s.Target != nil {
				t.Errorf("a snapshot step has a target: %+v", s.Target)
			}
			continue
		}
		if s.Target == nil {
			t.Fatalf("step %s %s has no target", s.Action, s.Member)
		}
		byMember[s.Member] = s.Target
	}
	addr := func(host string) HostAddr {
		return HostAddr{Host: host, Port: 2222, User: "ops", PrivateKeyFile: "/keys/id", KnownHostsFile: "/keys/known_hosts", Sudo: true,
			Bastion: &Bastion{Host: "jump", Port: 22, User: "j"}}
	}
	svc := want.Service
	for name, host := range map[string]string{"etcd-4": "10.0.0.4", "etcd-3": "10.0.0.3"} {
		wantT := &Target{Host: addr(host), Service: Service{Manager: "runit", Name: svc.Name, StopTimeout: 20 * time.Second, User: svc.User},
			ConfigFile: svc.ConfigFile, DataDir: svc.DataDir, Binary: svc.Binary, Version: "3.6.16"}
		if diff := cmp.Diff(wantT, byMember[name]); diff != "" {
			t.Errorf("target of %s (-want +got):\n%s", name, diff)
		}
	}
}

// A saved plan whose targets were edited is not the plan the
// configuration gives.
func TestCompareTargets(t *testing.T) {
	cfg := config(testCluster(1, 2, 3, 4))
	p := Make(cfg, withNewHost(observe(testCluster(1, 2, 3), 1), 4), Options{})
	fresh := Make(cfg, withNewHost(observe(testCluster(1, 2, 3), 1), 4), Options{})
	if d := append(CompareSteps(p.Steps, fresh.Steps), CompareTargets(p.Targets, fresh.Targets)...); len(d) != 0 {
		t.Fatalf("the same plan differs: %q", d)
	}
	for i := range p.Steps {
		if p.Steps[i].Target != nil {
			p.Steps[i].Target.Host.Host = "attacker.example"
			break
		}
	}
	p.Targets[0].Endpoints = []string{"http://attacker.example:2379"}
	d := append(CompareSteps(p.Steps, fresh.Steps), CompareTargets(p.Targets, fresh.Targets)...)
	if len(d) != 2 || !strings.Contains(d[0], "the target differs") || !strings.Contains(d[1], "how to reach cluster lab differs") {
		t.Errorf("differences %q, want the step's target and the cluster's", d)
	}
}

// withNewHost observes oc with the empty, reachable host of new member
// etcd-i.
func withNewHost(oc *state.Cluster, i int) *state.Observed {
	n := fmt.Sprintf("etcd-%d", i)
	oc.Hosts[n] = &state.Host{Member: n, Address: fmt.Sprintf("10.0.0.%d", i), Reachable: true, DataDirEmpty: true, ServiceState: "stopped", BinaryVersion: "3.6.16"}
	return observed(oc)
}
