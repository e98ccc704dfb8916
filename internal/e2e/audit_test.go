package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/apply"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// Issue 19 acceptance "Verifiable audit": six real applies (quota
// changes), the last with --audit-keep 4, leave a chain of four records
// and a summary of two in the cluster, each naming the approver from the
// CI variables; audit --verify passes; one byte changed in a record's
// stored value makes it fail naming that record.
func TestAuditChainE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	ci := []string{"GITLAB_CI=true", "GITLAB_USER_LOGIN=alice", "CI_PIPELINE_URL=https://gitlab.example.com/p/-/pipelines/7",
		"CI_JOB_URL=https://gitlab.example.com/p/-/jobs/42"}
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	var dir string
	for i, quota := range []string{"3GiB", "4GiB", "3GiB", "4GiB", "3GiB", "4GiB"} {
		dir = config(t, st, withStorage(quota))
		args := applyArgs(t, "--audit-log", auditLog)
		if i == 5 {
			args = append(args, "--audit-keep", "4")
		}
		if _, _, code := cliEnv(t, ci, append(args, planFile(t, dir))...); code != 0 {
			t.Fatalf("apply %d: exit %d", i+1, code)
		}
	}
	var approved, records int
	for _, e := range readAudit(t, auditLog) {
		if e.Kind == "apply-start" && e.Approver == "alice" && e.JobURL == "https://gitlab.example.com/p/-/jobs/42" {
			approved++
		}
		if e.Kind == "record" && e.Cluster == lab.ClusterName && e.Hash != "" && e.Prev != nil {
			records++
		}
	}
	if approved != 6 || records != 6 {
		t.Errorf("audit file: %d apply-start entries name the approver and job, %d record entries; want 6 and 6", approved, records)
	}

	out, _, code := cli(t, "audit", "--verify", dir)
	if code != 0 || !strings.Contains(out, "4 records, after 2 older ones folded") || !strings.Contains(out, "#6 ") ||
		!strings.Contains(out, "approved by alice") || !strings.Contains(out, "Verified") {
		t.Fatalf("audit --verify of an untouched history: exit %d", code)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ec := etcdClient(t, st)
	resp, err := ec.Get(ctx, apply.AuditPrefix+lab.ClusterName+"/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil || len(resp.Kvs) != 5 {
		t.Fatalf("in-cluster audit keys: %d, %v; want 4 records and the summary", len(resp.Kvs), err)
	}
	victim := resp.Kvs[1] // #3 to #6 are kept: this is #4
	i := bytes.Index(victim.Value, []byte(`"approver":"alice"`))
	if i < 0 {
		t.Fatalf("record %s does not name the approver: %s", victim.Key, victim.Value)
	}
	tampered := bytes.Clone(victim.Value)
	tampered[i+len(`"approver":"alic`)] = 'x' // alice -> alicx
	if _, err := ec.Put(ctx, string(victim.Key), string(tampered)); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := cli(t, "audit", "--verify", dir)
	if code != 1 || !strings.Contains(stderr, "broken at record "+string(victim.Key)+" (#4)") || !strings.Contains(stderr, "changed after it was written") {
		t.Errorf("audit --verify after one byte changed: exit %d\n%s%s", code, out, stderr)
	}
}
