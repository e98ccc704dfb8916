package schema

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// An auth block decodes into roles with their exact key ranges, users with
// sorted roles and password sources (a file resolved against the
// configuration directory), and the tool's credentials.
func TestAuthDecode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kh"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `cluster "c" {
  connection {
    agent            = true
    known_hosts_file = "kh"
  }
  member "etcd-1" {
    host = "10.0.0.1"
  }
  auth {
    enabled       = true
    allow_disable = true
    tool {
      user = "etcdform"
    }
    role "app-read" {
      permission {
        type   = "read"
        key    = "/app/"
        prefix = true
      }
      permission {
        type      = "readwrite"
        key       = "/a"
        range_end = "/b"
      }
      permission {
        type     = "write"
        key      = "/z"
        from_key = true
      }
      permission {
        type   = "read"
        key    = ""
        prefix = true
      }
      permission {
        type = "read"
        key  = "/one"
      }
    }
    user "root" {
      roles        = ["root"]
      password_env = "ETCD_ROOT_PASSWORD"
    }
    user "etcdform" {
      roles        = ["root", "app-read"]
      password_env = "ETCDFORM_ETCD_PASSWORD"
    }
    user "reader" {
      roles         = ["app-read"]
      password_file = "secrets/reader.pw"
    }
    user "svc" {
      roles       = []
      no_password = true
    }
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(dir, LoadOptions{Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := &Auth{
		Enabled: true, AllowDisable: true,
		Tool: &AuthTool{User: "etcdform"},
		Roles: []*Role{{Name: "app-read", Permissions: []Permission{
			{Type: "read", Key: "/app/", RangeEnd: "/app0"},
			{Type: "readwrite", Key: "/a", RangeEnd: "/b"},
			{Type: "write", Key: "/z", RangeEnd: "\x00"},
			{Type: "read", Key: "\x00", RangeEnd: "\x00"},
			{Type: "read", Key: "/one"},
		}}},
		Users: []*User{
			{Name: "root", Roles: []string{"root"}, Password: PasswordSource{Env: "ETCD_ROOT_PASSWORD"}},
			{Name: "etcdform", Roles: []string{"app-read", "root"}, Password: PasswordSource{Env: "ETCDFORM_ETCD_PASSWORD"}},
			{Name: "reader", Roles: []string{"app-read"}, Password: PasswordSource{File: filepath.Join(dir, "secrets/reader.pw")}},
			{Name: "svc", Password: PasswordSource{None: true}},
		},
	}
	got := cfg.Clusters[0].Auth
	if diff := cmp.Diff(want, got, cmpopts.IgnoreTypes(hcl.Range{})); diff != "" {
		t.Errorf("auth (-want +got)\n%s", diff)
	}
	if !contains(cfg.Clusters[0].Uses, filepath.Join(dir, "secrets/reader.pw")) {
		t.Errorf("Uses %v lacks the password file", cfg.Clusters[0].Uses)
	}
	if got.Users[2].Password.String() != "file "+filepath.Join(dir, "secrets/reader.pw") || got.Users[0].Password.String() != "env ETCD_ROOT_PASSWORD" {
		t.Errorf("sources: %s, %s", got.Users[2].Password, got.Users[0].Password)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"/app/": "/app0", "a\xff": "b", "\xff\xff": "\x00", "": "\x00"} {
		if got := PrefixEnd(in); got != want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}
