package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestToolTLS(t *testing.T) {
	const base = `
cluster "c" {
  connection {
    private_key_file = "id"
    known_hosts_file = "kh"
  }
  tls {
    client {
      ca_file   = "/etc/etcd/pki/ca.pem"
      cert_file = "/etc/etcd/pki/${member.name}.pem"
      key_file  = "/etc/etcd/pki/${member.name}-key.pem"
    }
    %s
  }
  member "etcd-1" {
    host = "10.0.0.1"
  }
}
`
	cases := map[string]struct {
		tool    string
		want    *ToolTLS // with paths relative to the dir
		summary string   // wanted error summary, "" for none
	}{
		"absent": {tool: ""},
		"full": {
			tool: `tool {
      ca_file   = "tool/ca.pem"
      cert_file = "tool/client.pem"
      key_file  = "tool/client-key.pem"
    }`,
			want: &ToolTLS{CAFile: "tool/ca.pem", CertFile: "tool/client.pem", KeyFile: "tool/client-key.pem"},
		},
		"ca only": {
			tool: `tool {
      ca_file = "tool/ca.pem"
    }`,
			want: &ToolTLS{CAFile: "tool/ca.pem"},
		},
		"cert without key": {
			tool: `tool {
      ca_file   = "tool/ca.pem"
      cert_file = "tool/client.pem"
    }`,
			summary: "Incomplete tool credentials",
		},
		"missing file": {
			tool: `tool {
      ca_file = "tool/nope.pem"
    }`,
			summary: "File not found",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"id", "kh", "tool/ca.pem", "tool/client.pem", "tool/client-key.pem"} {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			src := strings.Replace(base, "%s", tc.tool, 1)
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, diags := Load(dir, LoadOptions{})
			if tc.summary != "" {
				found := false
				for _, d := range diags {
					found = found || d.Summary == tc.summary
				}
				if !found {
					t.Fatalf("want diagnostic %q, got %v", tc.summary, diags)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got := cfg.Clusters[0].TLS.Tool
			var want *ToolTLS
			if tc.want != nil {
				abs, _ := filepath.Abs(dir)
				want = &ToolTLS{}
				for _, p := range [][2]*string{{&want.CAFile, &tc.want.CAFile}, {&want.CertFile, &tc.want.CertFile}, {&want.KeyFile, &tc.want.KeyFile}} {
					if *p[1] != "" {
						*p[0] = filepath.Join(abs, *p[1])
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("tool (-want +got):\n%s", diff)
			}
		})
	}
}
