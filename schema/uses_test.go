package schema

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUses: a cluster uses its own file, the files of the variables and
// locals it references (through locals), and the local files its model
// names; a variables file it does not reference is not among them.
func TestUses(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"variables.hcl": "variable \"quota\" {\n  default = \"4GiB\"\n}\n",
		"locals.hcl":    "locals {\n  q = var.quota\n}\n",
		"other.hcl":     "variable \"unused\" {\n  default = \"x\"\n}\n",
		"a.hcl": `cluster "a" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }
  storage {
    quota_backend_bytes = local.q
  }
  member "etcd-1" {
    host = "10.0.0.1"
  }
}
`,
		"b.hcl": `cluster "b" {
  connection {
    agent            = true
    known_hosts_file = "hosts/b"
  }
  member "etcd-1" {
    host = "10.0.1.1"
  }
}
`,
		"known_hosts": "",
		"hosts/b":     "",
	}
	for n, s := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, diags := Load(dir, LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := map[string][]string{
		"a": {"a.hcl", "known_hosts", "locals.hcl", "variables.hcl"},
		"b": {"b.hcl", "hosts/b"},
	}
	got := map[string][]string{}
	for _, c := range cfg.Clusters {
		for _, u := range c.Uses {
			rel, err := filepath.Rel(dir, u)
			if err != nil {
				t.Fatal(err)
			}
			got[c.Name] = append(got[c.Name], filepath.ToSlash(rel))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("uses (-want +got):\n%s", diff)
	}
}
