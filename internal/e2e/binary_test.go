package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestBinaryVersionObservedE2E: a member's binary version is the version
// of the file on its host. While the service's process runs that very
// file, observation takes it from the member's status instead of running
// `etcd --version` (connect.binaryVersions); once the file is replaced (an
// upgrade's swap before its restart, or by hand), the process runs another
// file, and the new file's own version is what the plan records.
func TestBinaryVersionObservedE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	dir := labtest.ConfigDir(t, st)
	hosts := st.Members()
	for name, v := range planBinaryVersions(t, dir) {
		if v != st.EtcdVersion {
			t.Errorf("%s: binary version %q, want the lab's %s", name, v, st.EtcdVersion)
		}
	}

	// Replace the first member's binary by another version's, as a swap
	// does (a rename: the running process keeps its own file).
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	other, err := etcdbin.Ensure(ctx, "3.7.3", nil)
	if err != nil {
		t.Fatal(err)
	}
	labtest.SwapBinary(t, other.Etcd, hosts[0].Path(lab.EtcdBinary))
	got := planBinaryVersions(t, dir)
	for _, h := range hosts {
		want := st.EtcdVersion
		if h.Name == hosts[0].Name {
			want = "3.7.3"
		}
		if got[h.Name] != want {
			t.Errorf("after %s's binary was replaced: %s's binary version %q, want %q", hosts[0].Name, h.Name, got[h.Name], want)
		}
	}
}

// planBinaryVersions is each member's binary version in the fingerprint of
// a plan of dir.
func planBinaryVersions(t *testing.T, dir string) map[string]string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "p.plan")
	// A plan with refusals (a member on another version than the
	// configuration's is one) is saved all the same, for review.
	out, errOut, code := cli(t, "plan", "--out", f, dir)
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatalf("plan exit %d, no plan file (%v):\n%s%s", code, err, out, errOut)
	}
	var p struct {
		Plan struct {
			Fingerprint []struct {
				Members []struct {
					Name          string `json:"name"`
					BinaryVersion string `json:"binary_version"`
				} `json:"members"`
			} `json:"fingerprint"`
		} `json:"plan"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range p.Plan.Fingerprint {
		for _, m := range c.Members {
			got[m.Name] = m.BinaryVersion
		}
	}
	if len(got) == 0 {
		t.Fatalf("no members in the plan's fingerprint:\n%s", data)
	}
	return got
}
