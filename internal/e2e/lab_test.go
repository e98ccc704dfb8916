package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestLabDownOnCopy: `lab down` on a copy of a running lab's directory
// leaves the original lab alone: its hosts keep running and healthy, its
// data dirs, keys and lab.hcl stay, its veths stay on the bridge
// (issue 13 #5).
func TestLabDownOnCopy(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 1})
	copyDir := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", st.Dir, copyDir).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	_, stderr, code := cli(t, "lab", "down", "--dir", copyDir)
	if code == 0 {
		t.Errorf("lab down on a copy exited 0; want a refusal naming the original directory")
	} else if want := st.Dir; !strings.Contains(stderr, want) {
		t.Errorf("lab down on a copy: stderr %q does not name the original lab %s", stderr, want)
	}
	for _, p := range []string{st.HCLFile(), st.KeyFile(), st.KnownHostsFile(), filepath.Join(st.Dir, "state.json"),
		filepath.Join(st.Hosts[0].Root, "var-lib-etcd", "member")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the original lab lost %s: %v", p, err)
		}
	}
	for _, h := range st.Hosts {
		if _, err := os.Stat(filepath.Join("/sys/class/net", h.Veth)); err != nil {
			t.Errorf("the original lab lost veth %s: %v", h.Veth, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	labtest.Eventually(t, 30*time.Second, func() error {
		for _, s := range st.Status(ctx) {
			if !s.Healthy {
				return fmt.Errorf("the original lab's %s is not healthy: %+v", s.Name, s)
			}
		}
		return nil
	})
	// The original lab still comes down cleanly (labtest's cleanup checks
	// that lab down succeeds); the copy's files were left for the user.
	if _, err := os.Stat(filepath.Join(copyDir, "state.json")); err != nil {
		t.Errorf("the refused lab down removed the copy's files: %v", err)
	}
}
