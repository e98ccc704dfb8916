package schema

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNewClusterIsTheLoadersDefaults checks that a cluster block that sets
// nothing decodes to NewCluster's defaults (plus what the loader derives).
func TestNewClusterIsTheLoadersDefaults(t *testing.T) {
	src := `cluster "lab" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.1"
  }
}
`
	cfg, diags := LoadFiles(t.TempDir(), map[string][]byte{"main.hcl": []byte(src)}, LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := cfg.Clusters[0]
	want := NewCluster("lab")
	want.Service.StopTimeout = got.Service.StopTimeout // derived from the raft timings
	pick := func(c *Cluster) any {
		return []any{c.Name, c.FaultTolerance, c.Service, c.Storage, c.Compaction, c.Raft}
	}
	if d := cmp.Diff(pick(want), pick(got)); d != "" {
		t.Errorf("loaded defaults (-NewCluster +loaded):\n%s", d)
	}
}
