package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// loadHostile loads hostileConfig(lines) from a fresh directory.
func loadHostile(t *testing.T, lines map[string]string) (*Config, hcl.Diagnostics, string) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"id", "kh"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := hostileConfig(lines)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
	return cfg, diags, src
}

// A schedule that matches no date is refused: cron would never run it.
func TestScheduleNeverFires(t *testing.T) {
	tests := map[string]bool{ // schedule: refused
		"0 0 30 2 *":        true,
		"0 0 31 4,6,9,11 *": true,
		"0 0 29 2 *":        false,
		"@yearly":           false,
	}
	for sched, refused := range tests {
		t.Run(sched, func(t *testing.T) {
			_, diags, src := loadHostile(t, map[string]string{"backup": `schedule = "` + sched + `" # HERE`})
			var got []string
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					got = append(got, d.Summary)
					line := strings.Split(src, "\n")[d.Subject.Start.Line-1]
					if !strings.HasSuffix(line, "# HERE") {
						t.Errorf("diagnostic at line %q", line)
					}
				}
			}
			var want []string
			if refused {
				want = []string{"Schedule never fires"}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("errors (-want +got)\n%s", diff)
			}
		})
	}
}

// An IPv6 host, with or without brackets, is stored without them and
// bracketed exactly once in the URLs derived from it.
func TestIPv6Host(t *testing.T) {
	for _, host := range []string{"fd00::2", "[fd00::2]"} {
		t.Run(host, func(t *testing.T) {
			cfg, diags, _ := loadHostile(t, map[string]string{"member": `host = "` + host + `"`, "bastion": `host = "` + host + `"`})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			c := cfg.Clusters[0]
			m := c.Members[0]
			got := []string{m.Host, m.PeerURL, m.ClientURL, m.Connection.Bastion.Host}
			want := []string{"fd00::2", "http://[fd00::2]:2380", "http://[fd00::2]:2379", "fd00::2"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}
