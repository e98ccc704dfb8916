package schema

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMaintenanceBlock decodes the maintenance block: its values, the
// defaults of an empty defrag block, and no block at all.
func TestMaintenanceBlock(t *testing.T) {
	cases := map[string]struct {
		block string
		want  *Maintenance
	}{
		"absent":       {"", nil},
		"no defrag":    {"maintenance {}", &Maintenance{}},
		"defaults":     {"maintenance {\ndefrag {}\n}", &Maintenance{Defrag: &DefragPolicy{FragmentationAbove: 30, MinReclaimable: 64 << 20}}},
		"strings":      {"maintenance {\ndefrag {\nfragmentation_above = \"12.5%\"\nmin_reclaimable = \"1GiB\"\n}\n}", &Maintenance{Defrag: &DefragPolicy{FragmentationAbove: 12.5, MinReclaimable: 1 << 30}}},
		"plain number": {"maintenance {\ndefrag {\nfragmentation_above = 0\nmin_reclaimable = 0\n}\n}", &Maintenance{Defrag: &DefragPolicy{}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := "cluster \"c\" {\nconnection {\nagent = true\n}\n" + tc.block + "\nmember \"etcd-1\" {\nhost = \"10.0.0.11\"\n}\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, diags := Load(dir, LoadOptions{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(tc.want, cfg.Clusters[0].Maintenance); diff != "" {
				t.Errorf("maintenance (-want +got):\n%s", diff)
			}
		})
	}
}
