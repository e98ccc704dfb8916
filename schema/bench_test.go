package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
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

// BenchmarkLoadLarge loads each shape at 1 MB and at 10 MB in the same run
// and reports both times and the ratio of their CPU times: linear loading
// gives a ratio near 10, quadratic near 100. The budget is 5 s for
// 10 MB. CPU time (user + system, from getrusage) is reported beside the
// wall time, which a busy machine inflates; the ratio uses CPU time for
// the same reason.
func BenchmarkLoadLarge(b *testing.B) {
	dir := b.TempDir()
	writeKnownHosts(b, dir)
	for _, s := range largeShapes {
		b.Run(s.name, func(b *testing.B) {
			var wall, cpu [2]float64
			for i, size := range []int{1 << 20, 10 << 20} {
				src, n := s.gen(size)
				files := map[string][]byte{"main.hcl": []byte(src)}
				runtime.GC()
				start, startCPU := time.Now(), cpuTime(b)
				for j := 0; j < b.N; j++ {
					cfg, diags := LoadFiles(dir, files, LoadOptions{})
					if diags.HasErrors() || len(cfg.Clusters) != s.clusters(n) {
						b.Fatalf("load of %d bytes failed: %v", size, diags)
					}
				}
				wall[i] = float64(time.Since(start).Milliseconds()) / float64(b.N)
				cpu[i] = float64((cpuTime(b) - startCPU).Milliseconds()) / float64(b.N)
			}
			b.ReportMetric(wall[0], "ms/1MB")
			b.ReportMetric(wall[1], "ms/10MB")
			b.ReportMetric(cpu[0], "cpu-ms/1MB")
			b.ReportMetric(cpu[1], "cpu-ms/10MB")
			b.ReportMetric(cpu[1]/cpu[0], "cpu-ratio-10MB/1MB")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
