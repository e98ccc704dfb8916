package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
