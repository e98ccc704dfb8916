package plan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	. "github.com/etcdform/etcdform/plan"
)

// TestDowngradeRewritesVersionKeys (issue 17 #4 with #5): a downgrade from
// 3.6 to 3.5 renders each member's file for 3.5 (the experimental-* keys
// instead of the feature gates 3.5 does not know, as etcd's downgrade
// guide lists them) and writes it right before that member's
// downgrade-member, after downgrade-enable; a second plan is empty.
func TestDowngradeRewritesVersionKeys(t *testing.T) {
	c, oc := upgradeLab("3.6.16", "3.5.35")
	oc.ClusterVersion = "3.6.0"
	withChecks(c)
	hostsRenderedFor(t, c, oc, "3.6.16")
	p := Make(config(c), observed(oc), Options{})
	want := []string{"snapshot  3/1",
		"stage-binary etcd-2 3/1", "stage-binary etcd-3 3/1", "stage-binary etcd-1 3/1 L",
		"downgrade-validate  3/1", "downgrade-enable  3/1",
		"write-config etcd-2 3/1", "downgrade-member etcd-2 3/0",
		"write-config etcd-3 3/1", "downgrade-member etcd-3 3/0",
		"write-config etcd-1 3/1 L", "downgrade-member etcd-1 3/0 L",
		"wait-cluster-version  3/1"}
	if diff := cmp.Diff(want, brief(p)); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	if len(p.Refusals) != 0 {
		t.Fatalf("refusals %v", summaries(p.Refusals))
	}
	w := p.Steps[6]
	if strings.Contains(string(w.Config), "feature-gates") || !strings.Contains(string(w.Config), "experimental-initial-corrupt-check: true") {
		t.Errorf("the file written for 3.5:\n%s", w.Config)
	}
	hostsRenderedFor(t, c, oc, "3.5.35")
	oc.ClusterVersion = "3.5.0"
	if p := Make(config(c), observed(oc), Options{}); len(p.Steps) != 0 || len(p.Refusals) != 0 {
		t.Errorf("second plan: %v, refusals %v", brief(p), summaries(p.Refusals))
	}
}
