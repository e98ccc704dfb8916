package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkLoad50x5 loads and validates 50 clusters of 5 members each, the
// size the issue sets a 200ms budget for.
func BenchmarkLoad50x5(b *testing.B) {
	dir := b.TempDir()
	var src strings.Builder
	for c := 0; c < 50; c++ {
		fmt.Fprintf(&src, `cluster "c%d" {
  connection {
    agent = true
  }
  storage {
    quota_backend_bytes = "4GiB"
  }
  tls {
    client {
      ca_file   = "/etc/etcd/pki/ca.pem"
      cert_file = "/etc/etcd/pki/${member.name}.pem"
      key_file  = "/etc/etcd/pki/${member.name}-key.pem"
    }
  }
  backup {
    schedule          = "0 */6 * * *"
    on                = ["m1"]
    destination       = "file:///var/backups/etcd"
    allow_unencrypted = true
  }
`, c)
		for m := 1; m <= 5; m++ {
			fmt.Fprintf(&src, "  member \"m%d\" {\n    host = \"10.%d.0.%d\"\n  }\n", m, c, m)
		}
		src.WriteString("}\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		cfg, diags := Load(dir, LoadOptions{})
		if diags.HasErrors() || len(cfg.Clusters) != 50 {
			b.Fatalf("load failed: %v", diags)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
}
