package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
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
			e := &Env{Stdout: &out, Stderr: &errb, Observe: func(context.Context, *schema.Config) *plan.Observed {
				t.Error("plan observed the clusters before refusing --out")
				return &plan.Observed{}
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
