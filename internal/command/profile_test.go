package command

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartProfile: ETCDFORM_CPUPROFILE and ETCDFORM_ALLOCSPROFILE get
// their profiles written (gzipped protobufs), an unusable path only a
// warning, and no variable no file.
func TestStartProfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cpu.pprof")
	var stderr bytes.Buffer
	allocs := filepath.Join(dir, "allocs.pprof")
	stop := startProfile(func(k string) string {
		return map[string]string{profileVar: path, allocsVar: allocs}[k]
	}, &stderr)
	stop()
	for _, p := range []string{path, allocs} {
		data, err := os.ReadFile(p)
		if err != nil || len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b || stderr.Len() != 0 {
			t.Fatalf("profile %s: %d bytes, %v, stderr %q", p, len(data), err, stderr.String())
		}
	}

	stop = startProfile(func(string) string { return filepath.Join(dir, "missing", "cpu.pprof") }, &stderr)
	stop()
	if !strings.Contains(stderr.String(), "Warning: ETCDFORM_CPUPROFILE: no CPU profile") {
		t.Errorf("unusable path: stderr %q", stderr.String())
	}

	stderr.Reset()
	startProfile(func(string) string { return "" }, &stderr)()
	if entries, _ := os.ReadDir(dir); len(entries) != 2 || stderr.Len() != 0 {
		t.Errorf("without the variable: %d files, stderr %q", len(entries), stderr.String())
	}
}
