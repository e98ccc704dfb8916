package command

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/plan/plantest"
)

// fakeOPA writes a stand-in for `opa eval` that copies its --input to
// input.json beside it and answers with answer (opa's JSON format).
func fakeOPA(t *testing.T, answer string) (bin, input string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "opa")
	input = filepath.Join(dir, "input.json")
	script := "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = --input ]; then cp \"$2\" " + input + "; fi; shift; done\ncat <<'EOF'\n" + answer + "\nEOF\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, input
}

// TestPolicyCommand: policy hands OPA the plan JSON with input.ci.labels,
// lists every package under etcdform and its deny messages, writes them
// for comment --policy, and exits 1 on a violation (the real OPA runs the
// example policies in internal/e2e/pipeline).
func TestPolicyCommand(t *testing.T) {
	pf := filepath.Join(t.TempDir(), "x.plan")
	if err := planfile.WriteFile(pf, plantest.Sample()); err != nil {
		t.Fatal(err)
	}
	opa, input := fakeOPA(t, `{"result":[{"expressions":[{"value":{"quota":{"deny":["lowers the quota"]},"labels":{"deny":[]}}}]}]}`)
	out := filepath.Join(t.TempDir(), "policy.json")
	code, stdout, stderr := runEnv(map[string]string{"CI_MERGE_REQUEST_LABELS": "database, etcdform:allow-removal"},
		"policy", "--opa", opa, "--policy-dir", t.TempDir(), "--out", out, pf)
	if code != 1 || !strings.Contains(stdout, "Policy check failed: 2 policies, 1 violation") || !strings.Contains(stdout, "  - quota: lowers the quota") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	var in struct {
		Steps []any `json:"steps"`
		CI    struct {
			Labels []string `json:"labels"`
		} `json:"ci"`
	}
	data, err := os.ReadFile(input)
	if err == nil {
		err = json.Unmarshal(data, &in)
	}
	if err != nil || len(in.Steps) == 0 || strings.Join(in.CI.Labels, ",") != "database,etcdform:allow-removal" {
		t.Errorf("OPA's input: %d steps, labels %q (%v)", len(in.Steps), in.CI.Labels, err)
	}
	var res views.PolicyResult
	data, err = os.ReadFile(out)
	if err == nil {
		err = json.Unmarshal(data, &res)
	}
	if err != nil || strings.Join(res.Policies, ",") != "labels,quota" || len(res.Violations) != 1 {
		t.Errorf("--out: %+v (%v)", res, err)
	}

	opa, _ = fakeOPA(t, `{"result":[{"expressions":[{"value":{"quota":{"deny":[]}}}]}]}`)
	if code, stdout, _ := runEnv(nil, "policy", "--opa", opa, "--policy-dir", t.TempDir(), pf); code != 0 || !strings.Contains(stdout, "Policy check passed: 1 policy") {
		t.Errorf("no violation: exit %d\n%s", code, stdout)
	}
	opa, _ = fakeOPA(t, `{"result":[{"expressions":[{"value":{}}]}]}`)
	if code, _, stderr := runEnv(nil, "policy", "--opa", opa, "--policy-dir", "rules", pf); code != 1 || !strings.Contains(stderr, "no policy in rules") {
		t.Errorf("no policy: exit %d\n%s", code, stderr)
	}
}
