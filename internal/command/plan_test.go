package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// TestPlanOutRefusesNonRegular: `plan --out` on a fifo or a symbolic link
// fails before observing anything and leaves the path as it was (issue 13 #4).
func TestPlanOutRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"named pipe": fifo, "symbolic link": link, "directory": dir} {
		t.Run(name, func(t *testing.T) {
			before, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			e := &Env{Stdout: &out, Stderr: &errb, Observe: func(context.Context, *schema.Config) *state.Observed {
				t.Error("plan observed the clusters before refusing --out")
				return &state.Observed{}
			}}
			code := RunEnv(context.Background(), e, []string{"plan", "--out", path, "../../examples/three-node"})
			if code != 1 || !strings.HasPrefix(errb.String(), "Error: --out: "+path+" is a "+name) {
				t.Errorf("exit %d, stderr %q; want 1 and an error naming %s", code, errb.String(), name)
			}
			after, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, after) || before.Mode() != after.Mode() {
				t.Errorf("%s changed: %v -> %v (%v)", path, before.Mode(), after, err)
			}
		})
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Errorf("the link's target was overwritten: %q", data)
	}
}

// twoMembers is a valid configuration whose only diagnostic is a warning
// (an even number of members).
const twoMembers = `cluster "c" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
  member "etcd-2" {
    host = "10.0.0.12"
  }
}
`

// configDir writes src as main.hcl of a fresh configuration directory.
func configDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPlanWarningsAreNotAVerdict: plan prints a configuration's warnings
// but not validate's "Success! The configuration is valid." (issue 13 #11).
func TestPlanWarningsAreNotAVerdict(t *testing.T) {
	_, stdout, stderr := runEnv(nil, "plan", configDir(t, twoMembers))
	if !strings.Contains(stderr, "Even number of members") {
		t.Errorf("the warning is missing: %q", stderr)
	}
	if all := stdout + stderr; strings.Contains(all, "Success!") || strings.Contains(all, "configuration is valid") {
		t.Errorf("plan printed validate's verdict:\n%s%s", stdout, stderr)
	}
}

// TestPlanRisks: plan lists the risks a cluster keeps, the accepted ones
// with their reasons and where they are accepted, in every rendering (the
// Markdown one is the merge-request comment); plan --strict refuses a
// configuration with a risk it does not accept before observing anything.
func TestPlanRisks(t *testing.T) {
	dir := configDir(t, `cluster "c" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }
  storage {
    quota_backend_bytes = "8GiB"
  }
  accept_risk "plaintext-client" {
    reason = "clients on a loopback bridge"
  }
  accept_risk "plaintext-peer" {
    reason = "peers on one machine"
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
}
`)
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	observed := 0
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		e := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
			Observe: func(context.Context, *schema.Config) *state.Observed { observed++; return &state.Observed{} }}
		code := RunEnv(context.Background(), e, args)
		return code, out.String(), errb.String()
	}

	code, _, errOut := run("plan", "--strict", dir)
	if flat := strings.Join(strings.Fields(errOut), " "); code != 1 || !strings.Contains(flat, "Error: Auto compaction off") ||
		!strings.Contains(flat, "main.hcl line 1:") || observed != 0 {
		t.Fatalf("plan --strict: exit %d, observed %d times, stderr:\n%s\nwant 1, no observation and the compaction-off error", code, observed, errOut)
	}

	_, human, _ := run("plan", dir)
	for _, want := range []string{
		"= c: Client traffic without TLS [plaintext-client], accepted at main.hcl:9\n      reason: clients on a loopback bridge",
		"= c: Peer traffic without TLS [plaintext-peer], accepted at main.hcl:12\n      reason: peers on one machine",
		"! c: Auto compaction off [compaction-off] at main.hcl:1\n      not accepted",
	} {
		if !strings.Contains(human, want) {
			t.Errorf("human plan lacks %q:\n%s", want, human)
		}
	}
	_, md, _ := run("plan", "--markdown", dir)
	if !strings.Contains(md, "| c | `plaintext-peer` Peer traffic without TLS | yes | peers on one machine | `main.hcl:12` |") ||
		!strings.Contains(md, "| c | `compaction-off` Auto compaction off | ⚠️ no") {
		t.Errorf("markdown plan lacks the risks table:\n%s", md)
	}
	_, js, _ := run("plan", "--json", dir)
	var doc struct {
		Risks []struct {
			Cluster, Risk, Summary, Source, Reason string
			Accepted                               bool
		} `json:"risks"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range doc.Risks {
		got = append(got, fmt.Sprintf("%s %s %s %v %q", r.Cluster, r.Risk, r.Source, r.Accepted, r.Reason))
	}
	want := []string{`c compaction-off main.hcl:1 false ""`, `c plaintext-client main.hcl:9 true "clients on a loopback bridge"`, `c plaintext-peer main.hcl:12 true "peers on one machine"`,
		`c auth-off main.hcl:1 false ""`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON risks (-want +got)\n%s", diff)
	}
}

// TestPlanRisksOnce: plan shows a risk it does not accept once, in the
// plan with the guide's reason, not also as a warning on stderr.
func TestPlanRisksOnce(t *testing.T) {
	var out, errb bytes.Buffer
	e := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		Observe: func(context.Context, *schema.Config) *state.Observed { return &state.Observed{} }}
	RunEnv(context.Background(), e, []string{"plan", "--markdown", "../../examples/lab"})
	if strings.Contains(errb.String(), "Warning: Auto compaction off") {
		t.Errorf("the risk is printed on stderr too:\n%s", errb.String())
	}
	for _, want := range []string{"- ⚠️ **Auto compaction off** (lab, `compaction-off`): The cluster lab has no auto compaction",
		`says: "Without periodic compaction, the database will grow until it hits quota and locks the cluster into read-only mode."`,
		"| lab | `auth-off` Authentication off | ⚠️ no"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the Markdown plan (the merge-request comment) lacks %q:\n%s", want, out.String())
		}
	}
}
