package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Generators of large configurations of a given size in bytes, one per
// shape a hostile or careless file can take. Each one is valid: it loads
// without errors into wantClusters clusters.

// largeLocals is about size bytes of locals, each depending on the one
// before it, used by one cluster. It returns the source and the number of
// locals.
func largeLocals(size int) (string, int) {
	var b strings.Builder
	b.WriteString("locals {\n  l_0 = \"10.0.0.1\"\n")
	pad := strings.Repeat("p", 150)
	n := 1
	for b.Len() < size {
		fmt.Fprintf(&b, "  l_%d = local.l_%d != \"\" ? local.l_%d : %q\n", n, n-1, n-1, pad)
		n++
	}
	fmt.Fprintf(&b, "}\n\ncluster \"c\" {\n  connection {\n    agent            = true\n    known_hosts_file = \"known_hosts\"\n  }\n  member \"m1\" {\n    host = local.l_%d\n  }\n}\n", n-1)
	return b.String(), n
}

// largeList is one local list of about size bytes, indexed by a cluster.
func largeList(size int) (string, int) {
	var b strings.Builder
	b.WriteString("locals {\n  hosts = [\n")
	n := 0
	for b.Len() < size {
		fmt.Fprintf(&b, "    \"10.%d.%d.%d\",\n", n>>16&255, n>>8&255, n&255)
		n++
	}
	b.WriteString("  ]\n}\n\ncluster \"c\" {\n  connection {\n    agent            = true\n    known_hosts_file = \"known_hosts\"\n  }\n  member \"m1\" {\n    host = local.hosts[length(local.hosts) - 1]\n  }\n}\n")
	return b.String(), n
}

// largeMembers is about size bytes of clusters of five members each.
func largeMembers(size int) (string, int) {
	var b strings.Builder
	n := 0
	for b.Len() < size {
		fmt.Fprintf(&b, "cluster \"c%d\" {\n  connection {\n    agent            = true\n    known_hosts_file = \"known_hosts\"\n  }\n", n)
		for m := 0; m < 5; m++ {
			h := n*5 + m
			fmt.Fprintf(&b, "  member \"m%d\" {\n    host = \"10.%d.%d.%d\"\n  }\n", m, h>>16&255, h>>8&255, h&255)
		}
		b.WriteString("}\n")
		n++
	}
	return b.String(), n
}

// largeShapes are the shapes with the number of clusters each loads into.
var largeShapes = []struct {
	name     string
	gen      func(int) (string, int)
	clusters func(n int) int
}{
	{"locals", largeLocals, func(int) int { return 1 }},
	{"list", largeList, func(int) int { return 1 }},
	{"members", largeMembers, func(n int) int { return n }},
}

// TestLoadLarge loads a 1 MB file of each shape: it must load correctly.
// The time it takes is measured by BenchmarkLoadLarge, not asserted here.
func TestLoadLarge(t *testing.T) {
	dir := t.TempDir()
	writeKnownHosts(t, dir)
	for _, s := range largeShapes {
		t.Run(s.name, func(t *testing.T) {
			src, n := s.gen(1 << 20)
			cfg, diags := LoadFiles(dir, map[string][]byte{"main.hcl": []byte(src)}, LoadOptions{})
			if diags.HasErrors() {
				t.Fatalf("load failed: %s", diags.Error())
			}
			if got, want := len(cfg.Clusters), s.clusters(n); got != want {
				t.Fatalf("%d clusters, want %d", got, want)
			}
		})
	}
}

// writeKnownHosts creates the empty known_hosts file the generated
// configurations name.
func writeKnownHosts(tb testing.TB, dir string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
}
