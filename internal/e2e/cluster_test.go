package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// Issue 19 acceptance "Selection": two labs are clusters a and b of one
// configuration directory, both with a quota change. plan --cluster with
// an unknown name is an error listing both; a plan of --cluster a,
// applied while every host of b is cut off the network, converges a and
// neither contacts nor locks b (cut off, any attempt would fail), and b
// keeps its pending change and has no audit record.
func TestClusterSelectionE2E(t *testing.T) {
	stA := labtest.Up(t, lab.Options{Members: 3})
	stB := labtest.Up(t, lab.Options{Members: 3})
	dir := t.TempDir()
	for name, st := range map[string]*lab.State{"a": stA, "b": stB} {
		hcl := labtest.ClusterHCL(t, st, labtest.WithName(name), labtest.WithStorage("3GiB"))
		if err := os.WriteFile(filepath.Join(dir, name+".hcl"), []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	_, stderr, code := cli(t, "plan", "--cluster", "nope", dir)
	if flat := strings.Join(strings.Fields(stderr), " "); code != 1 || !strings.Contains(flat, "Unknown cluster") ||
		!strings.Contains(flat, "The clusters are: a (a.hcl:") || !strings.Contains(flat, "b (b.hcl:") {
		t.Fatalf("plan --cluster nope: exit %d, want 1 and the known clusters", code)
	}

	pf := filepath.Join(t.TempDir(), "a.plan")
	if _, _, code := cli(t, "plan", "--cluster", "a", "--detailed-exitcode", "--out", pf, dir); code != 2 {
		t.Fatalf("plan --cluster a: exit %d, want 2", code)
	}

	ctx := t.Context()
	for _, h := range stB.Members() {
		if err := stB.Fault(ctx, lab.FaultPartition, h.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range stB.Members() {
		if c, err := net.DialTimeout("tcp", h.Addr+":22", time.Second); err == nil {
			c.Close()
			t.Fatalf("%s of cluster b is still reachable after the partition", h.Name)
		}
	}
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	if _, _, code := cli(t, applyArgs(t, "--audit-log", audit, pf)...); code != 0 {
		t.Fatalf("apply of the --cluster a plan with b cut off: exit %d", code)
	}
	for _, e := range readAudit(t, audit) {
		if e.Cluster == "b" {
			t.Errorf("audit record of cluster b: %+v", e)
		}
	}
	for _, h := range stB.Members() {
		if err := stB.Fault(ctx, lab.FaultHeal, h.Name); err != nil {
			t.Fatal(err)
		}
	}

	if _, _, code := cli(t, "plan", "--cluster", "a", "--detailed-exitcode", dir); code != 0 {
		t.Errorf("cluster a did not converge: plan exit %d", code)
	}
	labtest.Eventually(t, time.Minute, func() error {
		if _, _, code := cli(t, "plan", "--cluster", "b", "--detailed-exitcode", dir); code != 2 {
			return fmt.Errorf("plan --cluster b: exit %d, want 2 (b healthy, its change pending)", code)
		}
		return nil
	})
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := etcdClient(t, stB).Get(cctx, apply.AuditPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Errorf("cluster b has %d audit records", resp.Count)
	}
}
