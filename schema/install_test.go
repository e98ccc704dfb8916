package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestInstallBlock decodes the install block: an https template, a local
// template resolved against the configuration directory (the tarball for
// etcd_version must exist), a sha256 in upper case, and no block at all.
func TestInstallBlock(t *testing.T) {
	const url = "https://github.com/etcd-io/etcd/releases/download/v{version}/etcd-v{version}-{os}-{arch}.tar.gz"
	sum := strings.Repeat("AB", 32)
	cases := map[string]struct {
		block string
		want  func(dir string) *Install
	}{
		"absent": {"", func(string) *Install { return nil }},
		"https": {"install {\nsource = \"" + url + "\"\narch = \"arm64\"\nsha256 = \"" + sum + "\"\n}", func(string) *Install {
			return &Install{Source: url, SHA256: strings.ToLower(sum), OS: "linux", Arch: "arm64"}
		}},
		"local": {"install {\nsource = \"rel/etcd-v{version}-{os}-{arch}.tar.gz\"\n}", func(dir string) *Install {
			return &Install{Source: filepath.Join(dir, "rel/etcd-v{version}-{os}-{arch}.tar.gz"), OS: "linux", Arch: "amd64"}
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := "cluster \"c\" {\netcd_version = \"3.6.16\"\nconnection {\nagent = true\n}\n" + tc.block + "\nmember \"etcd-1\" {\nhost = \"10.0.0.11\"\n}\n}\n"
			files := map[string]string{"main.hcl": src, "known_hosts": "", "rel/etcd-v3.6.16-linux-amd64.tar.gz": "x"}
			for f, body := range files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, diags := Load(dir, LoadOptions{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got := cfg.Clusters[0].Install
			if diff := cmp.Diff(tc.want(dir), got, cmpopts.IgnoreFields(Install{}, "Range")); diff != "" {
				t.Errorf("install (-want +got):\n%s", diff)
			}
			if got != nil && !strings.Contains(got.Expand("3.6.16"), "etcd-v3.6.16-linux-") {
				t.Errorf("Expand = %q", got.Expand("3.6.16"))
			}
		})
	}
}
