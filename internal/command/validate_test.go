package command

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func runCmd(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code = RunEnv(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestValidateExamples(t *testing.T) {
	matches, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, m := range matches {
		// Directories of other files (examples/policies: Rego) are not
		// configurations.
		if hcl, _ := filepath.Glob(filepath.Join(m, "*.hcl")); len(hcl) > 0 {
			dirs = append(dirs, m)
		}
	}
	if len(dirs) < 5 {
		t.Fatalf("found %d example dirs, want at least 5", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			code, out, errOut := runCmd(t, nil, "validate", dir)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if errOut != "" {
				t.Errorf("unexpected diagnostics:\n%s", errOut)
			}
		})
	}
}

func TestFmtCheckExamples(t *testing.T) {
	if code, out, errOut := runCmd(t, nil, "fmt", "--check", "../../examples"); code != 0 {
		t.Fatalf("exit %d; unformatted:\n%s%s", code, out, errOut)
	}
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	ugly := filepath.Join(sub, "main.hcl")
	if err := os.WriteFile(ugly, []byte("cluster \"a\" {\nmember \"m\" {\nhost=\"h\"\n}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, nil, "fmt", "--check", dir)
	if code != 1 || !strings.Contains(out, ugly) {
		t.Fatalf("fmt --check: exit %d, out %q; want 1 listing %s", code, out, ugly)
	}
	if code, _, errOut := runCmd(t, nil, "fmt", dir); code != 0 {
		t.Fatalf("fmt: exit %d: %s", code, errOut)
	}
	got, _ := os.ReadFile(ugly)
	want := "cluster \"a\" {\n  member \"m\" {\n    host = \"h\"\n  }\n}\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("formatted file (-want +got)\n%s", diff)
	}
	if code, out, _ := runCmd(t, nil, "fmt", "--check", dir); code != 0 {
		t.Errorf("fmt --check after fmt: exit %d, %q", code, out)
	}
}

// TestDeepNestingRefused: 100,000 nested parentheses once ended validate
// and fmt with a stack overflow. Both must refuse them with a diagnostic
// and leave the file alone.
func TestDeepNestingRefused(t *testing.T) {
	dir := t.TempDir()
	src := "locals {\n  x = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "\n}\n"
	f := filepath.Join(dir, "main.hcl")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"validate", dir}, {"fmt", dir}} {
		code, _, errOut := runCmd(t, nil, args...)
		if code != 1 || !strings.Contains(errOut, "Expression nested too deeply") || !strings.Contains(errOut, "main.hcl line 2:") {
			t.Errorf("%s: exit %d, stderr %.300q; want 1 and the nesting error on main.hcl line 2", args[0], code, errOut)
		}
	}
	if got, _ := os.ReadFile(f); string(got) != src {
		t.Errorf("fmt changed the file")
	}
}

func TestValidateJSON(t *testing.T) {
	code, out, _ := runCmd(t, nil, "validate", "--json", "../../schema/testdata/invalid/unknown_attribute")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	var got struct {
		Valid       bool `json:"valid"`
		Diagnostics []struct {
			Severity, Summary, Detail string
			Range                     struct {
				Filename string
				Start    struct{ Line, Column int }
				End      struct{ Line, Column int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Valid || len(got.Diagnostics) != 1 {
		t.Fatalf("got %+v", got)
	}
	d := got.Diagnostics[0]
	if d.Severity != "error" || d.Summary != "Unsupported argument" || d.Range.Start.Line != 6 || d.Range.Start.Column != 5 ||
		!strings.HasSuffix(d.Range.Filename, "main.hcl") || !strings.Contains(d.Detail, `Did you mean "manager"?`) {
		t.Errorf("unexpected diagnostic %+v", d)
	}
}

func TestValidateWarningsStillValid(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(`cluster "even" {
  connection {
    agent = true
  }
  member "a" {
    host = "10.0.0.1"
  }
  member "b" {
    host = "10.0.0.2"
  }
}
`), 0o644)
	code, out, errOut := runCmd(t, nil, "validate", dir)
	if code != 0 || !strings.Contains(errOut, "Even number of members") || !strings.Contains(out, "Success") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 with a warning", code, out, errOut)
	}
}

// TestValidateNoSecretLeak checks that a sensitive variable's value is
// printed nowhere, even when it causes errors, whether it comes from -var,
// a var file or the environment.
func TestValidateNoSecretLeak(t *testing.T) {
	const secret = "hunter2-Sup3rSecret"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(`variable "token" {
  type      = string
  sensitive = true
  validation {
    condition     = length(var.token) < 5
    error_message = "Too long: ${var.token}."
  }
}
variable "n" {
  type      = number
  sensitive = true
}
cluster "c" {
  etcd_version = var.token
  connection {
    agent = true
    user  = var.token
    port  = var.token
  }
  service {
    manager = var.token
    binary  = "bin/${var.token}"
  }
  member "m" {
    host       = "h"
    client_url = "ftp://${var.token}:1"
  }
}
`), 0o644)
	varFile := filepath.Join(dir, "secret.vars")
	os.WriteFile(varFile, []byte("n = \""+secret+"\"\n"), 0o644)
	tests := map[string]struct {
		args []string
		env  map[string]string
	}{
		"-var human":   {args: []string{"validate", "--var", "token=" + secret, "--var-file", varFile, dir}},
		"-var json":    {args: []string{"validate", "--json", "--var", "token=" + secret, "--var-file", varFile, dir}},
		"env human":    {args: []string{"validate", "--var-file", varFile, dir}, env: map[string]string{"ETCDFORM_VAR_token": secret}},
		"env json":     {args: []string{"validate", "--json", "--var-file", varFile, dir}, env: map[string]string{"ETCDFORM_VAR_token": secret}},
		"bad -var num": {args: []string{"validate", "--var", "token=" + secret, "--var", "n=" + secret, dir}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.env, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			all := out + errOut
			if !strings.Contains(all, "Error") && !strings.Contains(all, `"error"`) {
				t.Fatalf("no error shown:\n%s", all)
			}
			if strings.Contains(all, secret) || strings.Contains(all, "Sup3rSecret") {
				t.Errorf("secret leaked:\n%s", all)
			}
		})
	}
}

// TestValidateWithoutKnownHosts: a plain valid configuration validates on
// a machine with no known_hosts anywhere; the default is OpenSSH's
// ~/.ssh/known_hosts, which only plan reads (issue 13 #11).
func TestValidateWithoutKnownHosts(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	dir := configDir(t, `cluster "c" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
}
`)
	code, out, errOut := runCmd(t, nil, "validate", dir)
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and no diagnostics", code, out, errOut)
	}
}

// TestFmtSymlink: fmt writes through a symbolically linked .hcl file to its
// target; the link stays a link (issue 13 #11: it became a regular file).
func TestFmtSymlink(t *testing.T) {
	shared := t.TempDir()
	target := filepath.Join(shared, "common.hcl")
	if err := os.WriteFile(target, []byte("cluster \"a\" {\nmember \"m\" {\nhost=\"h\"\n}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "main.hcl")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCmd(t, nil, "fmt", dir); code != 0 || !strings.Contains(out, link) {
		t.Fatalf("fmt: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if dest, err := os.Readlink(link); err != nil || dest != target {
		t.Errorf("main.hcl is no longer the link to %s: %q, %v", target, dest, err)
	}
	got, _ := os.ReadFile(target)
	if want := "cluster \"a\" {\n  member \"m\" {\n    host = \"h\"\n  }\n}\n"; string(got) != want {
		t.Errorf("the link's target was not formatted: %q", got)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o600 {
		t.Errorf("the target's mode changed to %v", st.Mode())
	}
	for _, d := range []string{dir, shared} {
		if left, _ := filepath.Glob(filepath.Join(d, ".fmt-*")); len(left) > 0 {
			t.Errorf("temp files left: %v", left)
		}
	}
}
