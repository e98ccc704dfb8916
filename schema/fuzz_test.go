package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary text to the loader as one .hcl file. The loader
// must not panic or hang, and an error must come back as diagnostics. The
// fast nesting scan must never count less than the exact one.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*/*.hcl")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o644); err != nil {
		f.Fatal(err)
	}
	f.Add(`x = "${ {a = "%{ if b }${c}%{ endif }"} }" # }`)
	f.Fuzz(func(t *testing.T, src string) {
		if err := fastIsUpperBound(src); err != "" {
			t.Error(err)
		}
		cfg, diags := LoadFiles(dir, map[string][]byte{"main.hcl": []byte(src)}, LoadOptions{Vars: []string{"subnet=10.0.0.0/24"}})
		if cfg == nil {
			t.Fatal("nil Config")
		}
		for _, d := range diags {
			if d.Subject == nil && !commandLineSummaries[d.Summary] && !strings.HasPrefix(d.Summary, "Cannot read") {
				t.Errorf("diagnostic %q without a range", d.Summary)
			}
		}
	})
}
