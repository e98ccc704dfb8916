package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
)

// A service name the host's service manager does not know is a refusal
// naming the member and the service, not "no changes".
func TestMakeRefusesMissingService(t *testing.T) {
	c := testCluster(1, 2, 3)
	c.Service.Name = "etcd-nope"
	oc := observe(testCluster(1, 2, 3), 1)
	oc.Hosts["etcd-2"].ServiceState = "unknown"
	oc.Hosts["etcd-2"].ServiceMissing = "ssh 10.0.0.2:22: systemd has no unit etcd-nope (LoadState=not-found): service not found"
	p := Make(config(c), observed(oc), Options{})
	if diff := cmp.Diff([]string{"Service not found (etcd-2)"}, summaries(p.Refusals)); diff != "" {
		t.Fatalf("refusals (-want +got)\n%s", diff)
	}
	if d := p.Refusals[0].Detail; !strings.Contains(d, `systemd service "etcd-nope" (service.name)`) || !strings.Contains(d, "Set service.name") {
		t.Errorf("detail: %s", d)
	}
}
