package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// TestUnworkableConfigRefused: configurations that cannot work or are
// unsafe (issue 13 #10) are refused by validate or plan with a message
// naming what to fix, instead of "no changes" or a broken apply.
func TestUnworkableConfigRefused(t *testing.T) {
	for _, init := range []string{lab.InitRunit, lab.InitSystemd} {
		t.Run(init, func(t *testing.T) {
			st := labtest.Up(t, lab.Options{Members: 1, Init: init})

			t.Run("a service name the host does not know", func(t *testing.T) {
				dir := config(t, st, func(s string) string {
					return strings.Replace(s, `"`+lab.ServiceName+`"`, `"etcd-nope"`, 1)
				})
				stdout, stderr, code := cli(t, "plan", "--detailed-exitcode", dir)
				out := stdout + stderr
				if code != 1 || !strings.Contains(out, "Service not found") || !strings.Contains(out, `"etcd-nope"`) ||
					!strings.Contains(out, "etcd-1") || !strings.Contains(out, "Set service.name") {
					t.Fatalf("plan: exit %d, want 1 with a refusal naming etcd-1 and etcd-nope:\n%s", code, out)
				}
			})

			t.Run("a private key others can read", func(t *testing.T) {
				key, err := os.ReadFile(st.KeyFile())
				if err != nil {
					t.Fatal(err)
				}
				open := filepath.Join(t.TempDir(), "id_open")
				if err := os.WriteFile(open, key, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(open, 0o644); err != nil {
					t.Fatal(err)
				}
				dir := config(t, st, func(s string) string {
					return strings.ReplaceAll(s, st.KeyFile(), open)
				})
				stdout, stderr, code := cli(t, "plan", dir)
				out := stdout + stderr
				if code == 0 || !strings.Contains(out, "private_key_file "+open+" has mode 0644") || !strings.Contains(out, "chmod 600") {
					t.Fatalf("plan: exit %d, want non-zero naming the key file and its mode:\n%s", code, out)
				}
			})
		})
	}

}

// TestUnworkableConfigValidate: the language-level items of issue 13 #10
// need no lab; validate refuses them, naming the line.
func TestUnworkableConfigValidate(t *testing.T) {
	const base = `cluster "c" {
  connection {
    private_key_file = "id"
    known_hosts_file = "kh"
  }
  backup {
    schedule          = "@daily"
    on                = ["etcd-1"]
    destination       = "file:///var/backups/etcd"
    allow_unencrypted = true
  }
  member "etcd-1" {
    host = "10.0.0.1"
  }
}
`
	for name, tc := range map[string]struct{ from, to, want string }{
		"empty host":            {`host = "10.0.0.1"`, `host = ""`, `The host "" is empty`},
		"host with a semicolon": {`host = "10.0.0.1"`, `host = "10.0.0.1;reboot"`, `contains ';'`},
		"schedule never firing": {`"@daily"`, `"0 0 30 2 *"`, "Schedule never fires"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, data := range map[string]string{"id": "x", "kh": "", "main.hcl": strings.Replace(base, tc.from, tc.to, 1)} {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, stderr, code := cli(t, "validate", dir)
			if code != 1 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "main.hcl line ") {
				t.Fatalf("validate: exit %d, want 1 with %q and the line:\n%s", code, tc.want, stderr)
			}
		})
	}
}
