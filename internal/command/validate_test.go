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

	"github.com/etcdform/etcdform/internal/command/views"
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
			if filepath.Base(dir) == "lab" {
				// The lab's config keeps etcd's risky defaults on purpose
				// and accepts none (TestValidateStrict).
				for _, r := range labRisks {
					if !strings.Contains(errOut, "Warning: "+r.summary) {
						t.Errorf("no warning %q:\n%s", r.summary, errOut)
					}
				}
				if n := strings.Count(errOut, "Warning: "); n != len(labRisks) {
					t.Errorf("%d warnings, want %d:\n%s", n, len(labRisks), errOut)
				}
				return
			}
			if errOut != "" {
				t.Errorf("unexpected diagnostics:\n%s", errOut)
			}
		})
	}
}

// labRisks are the risky defaults the lab keeps (examples/lab, and lab.hcl
// as `etcdform lab up` writes it).
var labRisks = []struct{ risk, summary string }{
	{"default-quota", "Storage quota at etcd's 2 GiB default or lower"},
	{"compaction-off", "Auto compaction off"},
	{"plaintext-client", "Client traffic without TLS"},
	{"plaintext-peer", "Peer traffic without TLS"},
	{"auth-off", "Authentication off"},
}

// TestValidateStrict: validate --strict fails on the lab's plaintext,
// compaction-off config naming each risk at the cluster block, and
// passes on the hardened example and on a config that accepts its risks
// with reasons (issue 18 #3, acceptance "Strict mode").
func TestValidateStrict(t *testing.T) {
	accepted := configDir(t, `cluster "accepted" {
  connection {
    agent            = true
    known_hosts_file = "known_hosts"
  }
  storage {
    quota_backend_bytes = "8GiB"
  }
  compaction {
    retention = "1h"
  }
  accept_risk "plaintext-client" {
    reason = "loopback only"
  }
  accept_risk "plaintext-peer" {
    reason = "one machine"
  }
  accept_risk "auth-off" {
    reason = "a test"
  }
  member "a" {
    host = "10.0.0.1"
  }
}
`)
	os.WriteFile(filepath.Join(accepted, "known_hosts"), nil, 0o644)
	tests := map[string]struct {
		args     []string
		wantCode int
		wantErr  []string // in stderr
		noStderr bool
	}{
		"lab strict": {args: []string{"validate", "--strict", "../../examples/lab"}, wantCode: 1,
			wantErr: []string{"Error: Storage quota", "Error: Auto compaction off", "Error: Client traffic without TLS", "Error: Peer traffic without TLS",
				"on ../../examples/lab/main.hcl line 12: 12: cluster \"lab\" {", "001_cefc37ad715bf683.txt", `accept_risk "default-quota"`, `accept_risk "compaction-off"`,
				`accept_risk "plaintext-client"`, `accept_risk "plaintext-peer"`, "Error: Authentication off", "003_a756930241e04525.txt", `accept_risk "auth-off"`}},
		"lab warns":       {args: []string{"validate", "../../examples/lab"}, wantErr: []string{"Warning: Auto compaction off"}},
		"hardened strict": {args: []string{"validate", "--strict", "../../examples/hardened"}, noStderr: true},
		"accepted strict": {args: []string{"validate", "--strict", accepted}, noStderr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCmd(t, nil, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.wantCode, out, errOut)
			}
			flat := strings.Join(strings.Fields(errOut), " ") // the view wraps lines
			for _, w := range tc.wantErr {
				if !strings.Contains(flat, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if tc.noStderr && errOut != "" {
				t.Errorf("unexpected diagnostics:\n%s", errOut)
			}
			if (code == 0) != strings.Contains(out, "Success!") {
				t.Errorf("exit %d with stdout %q", code, out)
			}
		})
	}
}

// TestValidateStrictJSON: --strict --json gives the same diagnostics as
// errors, each with the cluster block's range.
func TestValidateStrictJSON(t *testing.T) {
	code, out, _ := runCmd(t, nil, "validate", "--strict", "--json", "../../examples/lab")
	var got views.ValidateResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 1 || got.Valid || !got.Strict || len(got.Diagnostics) != len(labRisks) {
		t.Fatalf("exit %d, %+v; want 1, invalid, strict, %d diagnostics", code, got, len(labRisks))
	}
	for i, d := range got.Diagnostics {
		if d.Severity != "error" || d.Summary != labRisks[i].summary || d.Range == nil || d.Range.Start.Line != 12 ||
			!strings.HasSuffix(d.Range.Filename, "examples/lab/main.hcl") || !strings.Contains(d.Detail, labRisks[i].risk) {
			t.Errorf("diagnostic %d: %+v; want the error %q at main.hcl:12 naming %s", i, d, labRisks[i].summary, labRisks[i].risk)
		}
	}
	code, out, _ = runCmd(t, nil, "validate", "--json", "../../examples/lab")
	got = views.ValidateResult{}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || !got.Valid || got.Strict || len(got.Diagnostics) != len(labRisks) ||
		got.Diagnostics[0].Severity != "warning" {
		t.Errorf("without --strict: exit %d, %+v (%v); want 0, valid, the same diagnostics as warnings", code, got, err)
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
	// Besides the error, the case keeps etcd's risky defaults: warnings
	// (TestValidateStrictJSON).
	if got.Valid || len(got.Diagnostics) != 1+len(labRisks) {
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
  storage {
    quota_backend_bytes = "8GiB"
  }
  compaction {
    retention = "1h"
  }
  accept_risk "plaintext-client" {
    reason = "a test"
  }
  accept_risk "plaintext-peer" {
    reason = "a test"
  }
  accept_risk "auth-off" {
    reason = "a test"
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
