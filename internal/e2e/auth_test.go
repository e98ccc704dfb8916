package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// authHCL is the auth block of the e2e test: auth on, a read-only role on
// /app/, the root user and etcdform's user with passwords from the
// environment, and a reader whose password is in a file on the runner.
func authHCL(readerFile string) string {
	return `  auth {
    enabled = true
    tool {
      user = "etcdform"
    }
    role "app-read" {
      permission {
        type   = "read"
        key    = "/app/"
        prefix = true
      }
    }
    user "root" {
      roles        = ["root"]
      password_env = "E2E_ROOT_PW"
    }
    user "etcdform" {
      roles        = ["root"]
      password_env = "E2E_ETCDFORM_PW"
    }
    user "reader" {
      roles         = ["app-read"]
      password_file = "` + readerFile + `"
    }
  }

`
}

// Issue 18 acceptance "Auth": on a lab, with auth enabled and a read-only
// role: a plan that would lock etcdform out (its password unset) is
// refused; the apply enables auth; an anonymous read is then refused; the
// read-only user reads but cannot write; etcdform plans (a second plan is
// empty), applies and backs up with its own credentials, and `lab status`
// still sees healthy members; no password appears in the plan file, the
// plan, show (human, JSON, Markdown: the comment's body) and apply output,
// the audit file, the in-cluster audit records or the backup's output.
func TestAuthE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	const rootPW, toolPW, readerPW = "r00t-pw-7f3a9c", "etcdform-pw-91c2e8", "reader-pw-44d0b1"
	secrets := t.TempDir()
	readerFile := filepath.Join(secrets, "reader.pw")
	if err := os.WriteFile(readerFile, []byte(readerPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := config(t, st, func(s string) string {
		return strings.Replace(s, "  service {", authHCL(readerFile)+"  service {", 1)
	})
	anon := etcdClient(t, st)
	if _, err := anon.Put(ctx, "/app/k", "v1"); err != nil {
		t.Fatal(err)
	}
	env := []string{"E2E_ROOT_PW=" + rootPW, "E2E_ETCDFORM_PW=" + toolPW}
	var seen []string // every output and file the passwords must not appear in
	record := func(what ...string) { seen = append(seen, what...) }

	// Without etcdform's own password, enabling auth would lock it out:
	// the plan is refused and says how to get out.
	out, _, _ := cliEnv(t, []string{"E2E_ROOT_PW=" + rootPW}, "plan", "--json", dir)
	record(out)
	var refused planJSON
	if err := json.Unmarshal([]byte(out), &refused); err != nil {
		t.Fatalf("plan --json: %v", err)
	}
	lockout := false
	for _, r := range refused.Refusals {
		lockout = lockout || (r.Summary == "Auth would lock etcdform out" && strings.Contains(r.Detail, "E2E_ETCDFORM_PW"))
	}
	if refused.Applicable || !lockout {
		t.Fatalf("a plan without etcdform's password: applicable %v, refusals %+v", refused.Applicable, refused.Refusals)
	}

	// The plan, its views, the apply.
	pf := filepath.Join(t.TempDir(), "auth.plan")
	out, errOut, code := cliEnv(t, env, "plan", "--detailed-exitcode", "--out", pf, dir)
	record(out, errOut)
	if code != 2 {
		t.Fatalf("plan: exit %d", code)
	}
	for _, want := range []string{"add-user", "grant-permission", "enable-auth", "(sensitive) from env E2E_ETCDFORM_PW"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan does not show %q", want)
		}
	}
	for _, args := range [][]string{{"show", pf}, {"show", "--json", pf}, {"show", "--markdown", pf}} {
		o, e, code := cliEnv(t, env, args...)
		record(o, e)
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
	}
	planBytes, err := os.ReadFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	record(string(planBytes))
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	out, errOut, code = cliEnv(t, env, append(applyArgs(t, "--audit-log", auditLog), pf)...)
	record(out, errOut)
	if code != 0 {
		t.Fatalf("apply: exit %d", code)
	}

	// Auth is on: an anonymous read is refused.
	if _, err := anon.Get(ctx, "/app/k"); err == nil || !strings.Contains(err.Error(), "user name is empty") {
		t.Errorf("anonymous read after auth enable: %v, want a refusal", err)
	}
	// The read-only user reads but cannot write.
	reader := userClient(t, st, "reader", readerPW)
	if resp, err := reader.Get(ctx, "/app/k"); err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Errorf("reader's read of /app/k: %v, %v", resp, err)
	}
	if _, err := reader.Put(ctx, "/app/k", "v2"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("reader's write: %v, want permission denied", err)
	}
	if _, err := reader.Get(ctx, "/etcdform/", clientv3.WithPrefix()); err == nil {
		t.Errorf("the reader reads etcdform's keys")
	}

	// etcdform plans with its own credentials: nothing to do.
	out, errOut, code = cliEnv(t, env, "plan", "--detailed-exitcode", dir)
	record(out, errOut)
	if code != 0 {
		t.Fatalf("second plan: exit %d, want 0 (no changes)", code)
	}
	// ... applies (a quota change: restarts, gates, lock, HashKV, audit;
	// and a permission granted, which makes etcdform's token stale
	// mid-apply) ...
	grantW := func(s string) string {
		return strings.Replace(s, `        prefix = true
      }
`, `        prefix = true
      }
      permission {
        type = "write"
        key  = "/app/w"
      }
`, 1)
	}
	qdir := config(t, st, func(s string) string {
		return withStorage("3GiB")(strings.Replace(s, "  service {", grantW(authHCL(readerFile))+"  service {", 1))
	})
	pf2 := filepath.Join(t.TempDir(), "quota.plan")
	out, errOut, code = cliEnv(t, env, "plan", "--detailed-exitcode", "--out", pf2, qdir)
	record(out, errOut)
	if code != 2 {
		t.Fatalf("quota plan: exit %d", code)
	}
	out, errOut, code = cliEnv(t, env, append(applyArgs(t, "--audit-log", auditLog), pf2)...)
	record(out, errOut)
	if code != 0 {
		t.Fatalf("quota apply on an auth-enabled cluster: exit %d", code)
	}
	out, errOut, code = cliEnv(t, env, "plan", "--detailed-exitcode", qdir)
	record(out, errOut)
	if code != 0 {
		t.Fatalf("plan after the quota apply: exit %d, want 0", code)
	}
	if _, err := reader.Put(ctx, "/app/w", "w"); err != nil {
		t.Errorf("reader's write of /app/w after the grant: %v", err)
	}
	// ... backs up ...
	bdir := t.TempDir()
	out, errOut, code = cliEnv(t, env, "backup", "run", "--destination", "file://"+bdir, "--member", "etcd-1", "--allow-unencrypted", qdir)
	record(out, errOut)
	if code != 0 {
		t.Fatalf("backup run: exit %d", code)
	}
	if files, _ := filepath.Glob(filepath.Join(bdir, "*")); len(files) == 0 {
		t.Errorf("backup run left nothing in %s", bdir)
	}
	// ... and reads its audit chain.
	out, errOut, code = cliEnv(t, env, "audit", "--verify", qdir)
	record(out, errOut)
	if code != 0 || !strings.Contains(out, "Verified") {
		t.Errorf("audit --verify: exit %d", code)
	}
	// lab status sees the members healthy under auth.
	out, errOut, code = cli(t, "lab", "status", "--json", "--dir", st.Dir)
	record(out, errOut)
	var rows []lab.MemberStatus
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != 0 {
		t.Fatalf("lab status: exit %d, %v", code, err)
	}
	for _, r := range rows {
		if r.Member && !r.Healthy {
			t.Errorf("lab status: %s not healthy under auth", r.Name)
		}
	}

	// A password changed by hand shows: the plan sets the declared one again.
	root := userClient(t, st, "root", rootPW)
	if _, err := root.UserChangePassword(ctx, "reader", "changed-by-hand"); err != nil {
		t.Fatal(err)
	}
	p4, code := planAsJSONEnv(t, env, qdir)
	if code != 2 || len(p4.Steps) != 1 || p4.Steps[0].Action != "set-password" {
		t.Fatalf("plan after a hand change of a password: exit %d, steps %v", code, actions(p4))
	}
	out, errOut, code = cliEnv(t, env, append(applyArgs(t, "--audit-log", auditLog), planFileEnv(t, env, qdir))...)
	record(out, errOut)
	if code != 0 {
		t.Fatalf("apply of set-password: exit %d", code)
	}
	if resp, err := userClient(t, st, "reader", readerPW).Get(ctx, "/app/k"); err != nil || len(resp.Kvs) != 1 {
		t.Errorf("reader with the declared password after set-password: %v", err)
	}

	// Turning auth off needs allow_disable: refused without it, applied
	// with it.
	off := func(allow string) string {
		return config(t, st, func(s string) string {
			a := strings.Replace(grantW(authHCL(readerFile)), "enabled = true", "enabled = false"+allow, 1)
			return withStorage("3GiB")(strings.Replace(s, "  service {", a+"  service {", 1))
		})
	}
	out, errOut, _ = cliEnv(t, env, "plan", "--json", off(""))
	record(out, errOut)
	var noDisable planJSON
	if err := json.Unmarshal([]byte(out), &noDisable); err != nil || noDisable.Applicable || len(noDisable.Refusals) != 1 || noDisable.Refusals[0].Summary != "Auth disable not allowed" {
		t.Errorf("a plan turning auth off without allow_disable: %v, %+v", err, noDisable.Refusals)
	}
	pf3 := filepath.Join(t.TempDir(), "off.plan")
	out, errOut, code = cliEnv(t, env, "plan", "--detailed-exitcode", "--out", pf3, off("\n    allow_disable = true"))
	record(out, errOut)
	if code != 2 || !strings.Contains(out, "disable-auth") {
		t.Fatalf("plan with allow_disable: exit %d", code)
	}
	out, errOut, code = cliEnv(t, env, append(applyArgs(t, "--audit-log", auditLog), pf3)...)
	record(out, errOut)
	if code != 0 {
		t.Fatalf("apply of disable-auth: exit %d", code)
	}
	if _, err := anon.Get(ctx, "/app/k"); err != nil {
		t.Errorf("anonymous read after auth disable: %v", err)
	}

	// The passwords are nowhere: not in the outputs above, the plan file,
	// the audit file, or the in-cluster audit records.
	auditBytes, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	record(string(auditBytes))
	resp, err := anon.Get(ctx, "/etcdform/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var audits int
	for _, kv := range resp.Kvs {
		if strings.HasPrefix(string(kv.Key), "/etcdform/audit/") {
			audits++
			record(string(kv.Value))
		}
	}
	if audits < 4 {
		t.Errorf("%d in-cluster audit records, want 4", audits)
	}
	for i, s := range seen {
		for _, pw := range []string{rootPW, toolPW, readerPW} {
			if strings.Contains(s, pw) {
				t.Errorf("output %d holds a password:\n%s", i, s)
			}
		}
	}
}

// userClient connects to the lab as user with password.
func userClient(t *testing.T, st *lab.State, user, password string) *clientv3.Client {
	t.Helper()
	var eps []string
	for _, h := range st.Members() {
		eps = append(eps, h.ClientURL())
	}
	var c *clientv3.Client
	labtest.Eventually(t, 10*time.Second, func() error {
		var err error
		c, err = clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 3 * time.Second, Username: user, Password: password, Logger: zap.NewNop()})
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// Auth by the tool's client certificate: on a TLS lab, etcdform
// authenticates by its certificate's common name ("etcdform"), a user
// without a password. A plan that does not declare that user with the role
// root would lock etcdform out and is refused; with it, auth is enabled, a
// second plan is empty, and a quota change applies (restarts, gates, lock,
// HashKV, audit) under auth.
func TestAuthClientCertE2E(t *testing.T) {
	st, _ := upTLSLab(t, lab.Options{Members: 3})
	const rootPW = "r00t-cert-pw-5e1d"
	env := []string{"E2E_ROOT_PW=" + rootPW}
	block := func(tool string) string {
		return `  auth {
    enabled = true
    tool {
      client_cert = true
    }
    user "root" {
      roles        = ["root"]
      password_env = "E2E_ROOT_PW"
    }
` + tool + `  }

`
	}
	withAuth := func(tool string, edits ...func(string) string) string {
		return config(t, st, func(s string) string {
			s = withSources(st.PKIPath(""))(strings.Replace(s, "  service {", block(tool)+"  service {", 1))
			for _, e := range edits {
				s = e(s)
			}
			return s
		})
	}

	out, _, _ := cliEnv(t, env, "plan", "--json", withAuth(""))
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	lockout := false
	for _, r := range p.Refusals {
		lockout = lockout || (r.Summary == "Auth would lock etcdform out" && strings.Contains(r.Detail, `"etcdform"`))
	}
	if p.Applicable || !lockout {
		t.Fatalf("a plan without the certificate's user: applicable %v, refusals %+v", p.Applicable, p.Refusals)
	}

	certUser := `    user "etcdform" {
      roles       = ["root"]
      no_password = true
    }
`
	dir := withAuth(certUser)
	if _, _, code := cliEnv(t, env, append(applyArgs(t), planFileEnv(t, env, dir))...); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	status, err := etcdClient(t, st).AuthStatus(ctx)
	if err != nil || !status.Enabled {
		t.Fatalf("auth status after the apply: %v, %v", status, err)
	}
	if _, _, code := cliEnv(t, env, "plan", "--detailed-exitcode", dir); code != 0 {
		t.Fatalf("second plan: exit %d, want 0", code)
	}
	qdir := withAuth(certUser, withStorage("3GiB"))
	if _, _, code := cliEnv(t, env, append(applyArgs(t), planFileEnv(t, env, qdir))...); code != 0 {
		t.Fatalf("quota apply under auth by certificate: exit %d", code)
	}
	if _, _, code := cliEnv(t, env, "plan", "--detailed-exitcode", qdir); code != 0 {
		t.Fatalf("plan after the quota apply: exit %d, want 0", code)
	}
}

// planFileEnv is planFile with extra environment.
func planFileEnv(t *testing.T, env []string, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "change.plan")
	if _, _, code := cliEnv(t, env, "plan", "--detailed-exitcode", "--out", out, dir); code != 2 {
		t.Fatalf("plan: exit %d, want 2", code)
	}
	return out
}

// planAsJSONEnv is planAsJSON with extra environment.
func planAsJSONEnv(t *testing.T, env []string, dir string) (planJSON, int) {
	t.Helper()
	out, _, code := cliEnv(t, env, "plan", "--json", "--detailed-exitcode", dir)
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan --json output is not JSON: %v\n%s", err, out)
	}
	return p, code
}
