package command

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/plan/plantest"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

func runEnv(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	e := &Env{
		Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] },
		Observe: func(context.Context, *schema.Config) *state.Observed { return &state.Observed{} },
	}
	code = RunEnv(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestPlanOutSigns(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x.plan")
	env := map[string]string{envSigningKey: base64.StdEncoding.EncodeToString(priv)}
	runEnv(env, "plan", "--out", out, "../../examples/three-node")
	if _, err := planfile.ReadFileVerified(out, pub); err != nil {
		t.Fatalf("plan --out with %s: %v", envSigningKey, err)
	}
	runEnv(nil, "plan", "--out", out, "../../examples/three-node")
	if _, err := planfile.ReadFileVerified(out, pub); err == nil {
		t.Fatal("plan --out without a key wrote a signed plan")
	}
	code, _, stderr := runEnv(map[string]string{envSigningKey: "bm90IGEga2V5"}, "plan", "--out", out, "../../examples/three-node")
	if code != 1 || !strings.Contains(stderr, envSigningKey) {
		t.Errorf("a bad signing key: exit %d, stderr %q", code, stderr)
	}
}

func TestApplyVerifiesPlans(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The sample plan has refusals: an apply that gets past the checks of
	// the file stops there, before touching anything.
	p := plantest.Sample()
	p.Meta.ConfigDir = "../../examples/three-node"
	p.Meta.GitCommit = "c0ffee"
	signedFile, unsignedFile := filepath.Join(dir, "signed.plan"), filepath.Join(dir, "unsigned.plan")
	if err := planfile.WriteFileSigned(signedFile, p, priv); err != nil {
		t.Fatal(err)
	}
	if err := planfile.WriteFile(unsignedFile, p); err != nil {
		t.Fatal(err)
	}
	verify := map[string]string{envVerifyKey: base64.StdEncoding.EncodeToString(pub)}
	const passed = "the plan has refusals"
	tests := map[string]struct {
		env    map[string]string
		args   []string
		stderr string
	}{
		"signed, verified":    {env: verify, args: []string{signedFile}, stderr: passed},
		"unsigned, no key":    {args: []string{unsignedFile}, stderr: passed},
		"unsigned refused":    {env: verify, args: []string{unsignedFile}, stderr: "not signed"},
		"other key refused":   {env: map[string]string{envVerifyKey: base64.StdEncoding.EncodeToString(otherPub)}, args: []string{signedFile}, stderr: "signed by key"},
		"bad verify key":      {env: map[string]string{envVerifyKey: "eA=="}, args: []string{signedFile}, stderr: envVerifyKey},
		"directory refused":   {env: verify, args: []string{"../../examples/three-node"}, stderr: "only a signed plan file"},
		"commit matches":      {args: []string{"--require-commit", "c0ffee", unsignedFile}, stderr: passed},
		"commit differs":      {args: []string{"--require-commit", "deadbeef", unsignedFile}, stderr: `made at commit "c0ffee", not at deadbeef`},
		"commit and verified": {env: verify, args: []string{"--require-commit", "c0ffee", signedFile}, stderr: passed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runEnv(tc.env, append([]string{"apply", "--auto-approve"}, tc.args...)...)
			if code != 1 || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.stderr)
			}
			if signedOK := strings.Contains(stdout, "The plan is signed by the key in "+envVerifyKey+" ("+planfile.KeyID(pub)+")"); signedOK != (tc.env[envVerifyKey] != "" && tc.stderr == passed) {
				t.Errorf("signature line in stdout: %v\n%s", signedOK, stdout)
			}
		})
	}
}

func TestApplyConfigDir(t *testing.T) {
	p := plantest.Sample()
	p.Meta.ConfigDir = "/nonexistent/checkout/of/another/job"
	file := filepath.Join(t.TempDir(), "x.plan")
	if err := planfile.WriteFile(file, p); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runEnv(nil, "apply", "--auto-approve", file)
	if code != 1 || strings.Contains(stderr, "the plan has refusals") {
		t.Errorf("without --config-dir: exit %d, %q", code, stderr)
	}
	code, _, stderr = runEnv(nil, "apply", "--auto-approve", "--config-dir", "../../examples/three-node", file)
	if code != 1 || !strings.Contains(stderr, "the plan has refusals") {
		t.Errorf("with --config-dir: exit %d, %q", code, stderr)
	}
}
