package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/plan/plantest"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// quotaConfig writes a 3-member configuration whose quota differs from
// what quotaWorld observes, so its plan writes and restarts every member.
func quotaConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	hcl := `cluster "lab" {
  connection {
    user             = "root"
    agent            = true
    known_hosts_file = "known_hosts"
  }
  storage {
    quota_backend_bytes = "4GiB"
  }
`
	for _, i := range []string{"1", "2", "3"} {
		hcl += `  member "etcd-` + i + `" {
    host       = "10.0.0.` + i + `"
    peer_url   = "http://10.0.0.` + i + `:2380"
    client_url = "http://10.0.0.` + i + `:2379"
  }
`
	}
	hcl += "}\n"
	for name, data := range map[string]string{"main.hcl": hcl, "known_hosts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// quotaWorld observes the clusters of a configuration as converged except
// for a 2 GiB quota, with etcd-<leader> leading. Nothing touches a network.
func quotaWorld(leader int) func(context.Context, *schema.Config) *state.Observed {
	return func(_ context.Context, cfg *schema.Config) *state.Observed {
		oc := plantest.Observe(cfg.Clusters[0], leader)
		for _, h := range oc.Hosts {
			h.Config.QuotaBackendBytes = 2 << 30
			b, err := etcdconf.Marshal(h.Config)
			if err != nil {
				panic(err)
			}
			h.ConfigContent = b
		}
		return plantest.Observed(oc)
	}
}

func runWorld(t *testing.T, world func(context.Context, *schema.Config) *state.Observed, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Getenv: func(string) string { return "" }, Observe: world}
	code = RunEnv(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// Issue 13 #2 at the command level: apply plans a saved plan again and
// refuses one whose steps were edited (and re-sealed), before asking or
// running anything; a leader change alone passes to the confirmation.
// (With --auto-approve the same check runs under the lock, on apply's own
// observation: apply.Options.Verify, e2e TestApplyRefusesTamperedPlan.)
func TestApplyComparesSavedSteps(t *testing.T) {
	dir := quotaConfig(t)
	pf := filepath.Join(t.TempDir(), "change.plan")
	if code, _, stderr := runWorld(t, quotaWorld(1), "plan", "--out", pf, dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	p, err := planfile.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}

	// Another leader: the steps compare equal, and apply goes on to ask.
	code, _, stderr := runWorld(t, quotaWorld(3), "apply", pf)
	if code != 1 || !strings.Contains(stderr, "apply needs confirmation") {
		t.Errorf("untampered plan, leader moved: exit %d, stderr:\n%s", code, stderr)
	}

	// An edited config, re-sealed the way anyone can.
	for i, s := range p.Steps {
		if s.Action == plan.WriteConfig {
			p.Steps[i].Config = append(s.Config, "enable-pprof: true\n"...)
			break
		}
	}
	if err := planfile.WriteFile(pf, p); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runWorld(t, quotaWorld(1), "apply", pf)
	if code != 1 || !strings.Contains(stderr, `step 2 (write-config etcd-2): the config to write differs: the plan has "enable-pprof: true" instead`) {
		t.Errorf("tampered plan: exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout, "Do you want") || strings.Contains(stderr, "confirmation") {
		t.Errorf("apply asked before refusing:\n%s%s", stdout, stderr)
	}
}

// Issue 13 #11: a plan with refusals is not announced as applicable.
func TestPlanOutWithRefusals(t *testing.T) {
	pf := filepath.Join(t.TempDir(), "change.plan")
	code, stdout, _ := runWorld(t, func(context.Context, *schema.Config) *state.Observed { return &state.Observed{} }, "plan", "--out", pf, quotaConfig(t))
	if code != 1 || strings.Contains(stdout, "Apply exactly these steps") || !strings.Contains(stdout, "for review only: it has refusals") {
		t.Errorf("plan with refusals: exit %d, stdout:\n%s", code, stdout)
	}
	code, stdout, _ = runWorld(t, quotaWorld(1), "plan", "--out", pf, quotaConfig(t))
	if code != 0 || !strings.Contains(stdout, "Apply exactly these steps with: etcdform apply "+pf) {
		t.Errorf("plan without refusals: exit %d, stdout:\n%s", code, stdout)
	}
}
