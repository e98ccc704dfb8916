// Package pipeline runs the GitLab pipeline template (ci/etcdform.gitlab-ci.yml)
// for real, with gitlab-ci-local and its shell executor, against a lab and
// a fake GitLab Notes API: a merge-request pipeline posts the plan comment,
// a default-branch pipeline applies the plan artifact and converges the lab,
// a tampered or swapped artifact makes apply fail, and a maintenance schedule
// applies a maintenance-only plan that leaves config work alone.
//
// It needs gitlab-ci-local (`make test-pipeline` installs version 4.62.0
// from npm and sets ETCDFORM_GITLAB_CI_LOCAL to it); without it the test is
// skipped.
package pipeline

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/providers/gitlab/gitlabtest"
)

var binary string

func TestMain(m *testing.M) {
	labtest.ExitIfShort("pipeline")
	if os.Getenv("ETCDFORM_GITLAB_CI_LOCAL") == "" {
		fmt.Println("skipping the pipeline tests: ETCDFORM_GITLAB_CI_LOCAL is not set (run make test-pipeline)")
		os.Exit(0)
	}
	path, cleanup, err := labtest.BuildBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

const (
	token     = "glpat-pipeline-T0KEN"
	projectID = "4242"
	mrIID     = 17
)

// repo is a git repository that includes the template, as an adopter's would.
type repo struct {
	t   *testing.T
	dir string
	st  *lab.State
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=ci", "-c", "user.email=ci@example.com", "-C", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newRepo(t *testing.T, st *lab.State) *repo {
	dir := t.TempDir()
	template, err := os.ReadFile("../../../ci/etcdform.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "ci", "etcdform.gitlab-ci.yml"), string(template))
	write(t, filepath.Join(dir, ".gitlab-ci.yml"), fmt.Sprintf(`include:
  - local: ci/etcdform.gitlab-ci.yml

variables:
  ETCDFORM_DIR: etcd
  ETCDFORM_BIN: %q
`, binary))
	write(t, filepath.Join(dir, ".gitignore"), ".gitlab-ci-local/\n")
	git(t, dir, "init", "-q", "-b", "main")
	r := &repo{t: t, dir: dir, st: st}
	r.commit("the lab as it is")
	return r
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// commit writes the lab's configuration with edits into etcd/main.hcl and
// commits everything; it returns the commit.
func (r *repo) commit(msg string, edits ...func(string) string) string {
	cfg := labtest.ConfigDir(r.t, r.st, edits...)
	data, err := os.ReadFile(filepath.Join(cfg, "main.hcl"))
	if err != nil {
		r.t.Fatal(err)
	}
	write(r.t, filepath.Join(r.dir, "etcd", "main.hcl"), string(data))
	git(r.t, r.dir, "add", "-A")
	git(r.t, r.dir, "commit", "-q", "-m", msg)
	return git(r.t, r.dir, "rev-parse", "HEAD")
}

// pipeline runs gitlab-ci-local in the repository with extra variables and
// arguments; it returns the combined output and whether it passed.
func (r *repo) pipeline(vars map[string]string, args ...string) (string, bool) {
	r.t.Helper()
	full := []string{"--shell-executor-no-image", "--shell-isolation", "--no-artifacts-to-source", "--no-color", "--timestamps"}
	for k, v := range vars {
		full = append(full, "--variable", k+"="+v)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(r.t.Context(), os.Getenv("ETCDFORM_GITLAB_CI_LOCAL"), full...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	s := strings.ReplaceAll(out.String(), token, "[TOKEN]") // the check below is on the raw output
	r.t.Logf("gitlab-ci-local %s (%s, err %v)\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), err, s)
	if strings.Contains(out.String(), token) {
		r.t.Errorf("the token appears in the pipeline output")
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		r.t.Fatalf("running gitlab-ci-local: %v", err)
	}
	return out.String(), err == nil
}

// planExit runs `etcdform plan --detailed-exitcode` on the repository's
// configuration from outside the pipeline.
func planExit(t *testing.T, dir string) int {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, "plan", "--detailed-exitcode", filepath.Join(dir, "etcd"))
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Logf("plan: exit %d\n%s", ee.ExitCode(), out)
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// passed says whether gitlab-ci-local's summary has job as passed.
func passed(out, job string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "PASS" && f[len(f)-1] == job {
			return true
		}
	}
	return false
}

func planNotes(srv *gitlabtest.Server) []gitlabtest.Note {
	var out []gitlabtest.Note
	for _, n := range srv.Notes() {
		if strings.HasPrefix(n.Body, "<!-- etcdform:plan -->\n") {
			out = append(out, n)
		}
	}
	return out
}

func TestPipelineTemplate(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	r := newRepo(t, st)
	srv := gitlabtest.NewServer(t, projectID, mrIID, token)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signing := map[string]string{
		"ETCDFORM_PLAN_SIGNING_KEY": base64.StdEncoding.EncodeToString(priv),
		"ETCDFORM_PLAN_VERIFY_KEY":  base64.StdEncoding.EncodeToString(pub),
	}
	mr := map[string]string{
		"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": fmt.Sprint(mrIID),
		"CI_API_V4_URL": srv.APIURL, "CI_PROJECT_ID": projectID, "GITLAB_TOKEN": token,
		// The public key may be set everywhere; the signing key is a
		// protected variable, absent from merge-request pipelines.
		"ETCDFORM_PLAN_VERIFY_KEY": signing["ETCDFORM_PLAN_VERIFY_KEY"],
	}
	push := map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push"}
	for k, v := range signing {
		push[k] = v
	}

	r.commit("quota 3GiB", labtest.WithStorage("3GiB"))

	t.Run("merge request pipeline posts one comment, updated in place", func(t *testing.T) {
		out, ok := r.pipeline(mr)
		if !ok || !passed(out, "etcdform-validate") || !passed(out, "etcdform-plan") {
			t.Fatalf("the merge-request pipeline failed")
		}
		if strings.Contains(out, "etcdform-apply") || strings.Contains(out, "etcdform-drift") {
			t.Errorf("apply or drift ran in a merge-request pipeline")
		}
		notes := planNotes(srv)
		if len(notes) != 1 || !strings.Contains(notes[0].Body, "quota-backend-bytes") {
			t.Fatalf("plan notes: %+v", notes)
		}
		if _, ok := r.pipeline(mr); !ok {
			t.Fatal("the second merge-request pipeline failed")
		}
		again := planNotes(srv)
		if len(again) != 1 || again[0].ID != notes[0].ID {
			t.Fatalf("after a second pipeline: %+v, want note %d alone", again, notes[0].ID)
		}
		if code := planExit(t, r.dir); code != 2 {
			t.Fatalf("the lab changed in a merge-request pipeline (plan exit %d)", code)
		}
	})

	t.Run("default-branch pipeline applies the plan artifact", func(t *testing.T) {
		out, ok := r.pipeline(push, "--manual", "etcdform-apply")
		if !ok || !passed(out, "etcdform-apply") {
			t.Fatalf("the default-branch pipeline failed")
		}
		if code := planExit(t, r.dir); code != 0 {
			t.Fatalf("the lab did not converge: plan exit %d", code)
		}
		if n := len(planNotes(srv)); n != 1 {
			t.Errorf("a default-branch pipeline changed the comments: %d", n)
		}
	})

	schedule := map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "schedule"}
	t.Run("scheduled pipeline without drift passes", func(t *testing.T) {
		out, ok := r.pipeline(schedule)
		if !ok || !passed(out, "etcdform-drift") {
			t.Fatal("the scheduled pipeline failed on a converged lab")
		}
		if strings.Contains(out, "etcdform-plan ") || strings.Contains(out, "etcdform-apply") || strings.Contains(out, "etcdform-maintenance") {
			t.Error("plan, apply or maintenance ran in a scheduled pipeline")
		}
	})

	maintenance := map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "schedule", "ETCDFORM_MAINTENANCE": "true"}
	for k, v := range signing {
		maintenance[k] = v
	}
	t.Run("maintenance schedule applies a maintenance-only plan", func(t *testing.T) {
		out, ok := r.pipeline(maintenance)
		if !ok || !passed(out, "etcdform-maintenance") {
			t.Fatal("the maintenance schedule failed on a converged lab")
		}
		if strings.Contains(out, "etcdform-drift") || strings.Contains(out, "etcdform-apply") {
			t.Error("drift or apply ran in a maintenance schedule")
		}
		if code := planExit(t, r.dir); code != 0 {
			t.Fatalf("the maintenance schedule changed a converged lab: plan exit %d", code)
		}
	})

	r.commit("quota 4GiB", labtest.WithStorage("4GiB"))
	artifact := filepath.Join(r.dir, ".gitlab-ci-local", "artifacts", "etcdform-plan", "etcdform.plan")

	t.Run("a modified artifact is refused", func(t *testing.T) {
		if _, ok := r.pipeline(push, "etcdform-plan"); !ok {
			t.Fatal("the plan job failed")
		}
		data, err := os.ReadFile(artifact)
		if err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Replace(data, []byte(`4294967296`), []byte(`4294967297`), 1)
		if bytes.Equal(tampered, data) {
			t.Fatal("the plan artifact does not hold the new quota")
		}
		write(t, artifact, string(tampered))
		out, ok := r.pipeline(push, "etcdform-apply")
		if ok || !strings.Contains(out, "corrupted or was modified") {
			t.Fatalf("apply of a modified plan: passed %v", ok)
		}
	})

	t.Run("a swapped, unsigned artifact is refused", func(t *testing.T) {
		// A well-formed plan of the same commit, made without the key.
		cmd := exec.CommandContext(t.Context(), binary, "plan", "--out", artifact, filepath.Join(r.dir, "etcd"))
		cmd.Env = append(os.Environ(), "CI_COMMIT_SHA="+git(t, r.dir, "rev-parse", "HEAD"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("plan: %v\n%s", err, out)
		}
		out, ok := r.pipeline(push, "etcdform-apply")
		if ok || !strings.Contains(out, "the plan is not signed") {
			t.Fatalf("apply of an unsigned plan: passed %v", ok)
		}
	})

	t.Run("a plan of another commit is refused", func(t *testing.T) {
		if _, ok := r.pipeline(push, "etcdform-plan"); !ok {
			t.Fatal("the plan job failed")
		}
		r.commit("an unrelated commit", labtest.WithStorage("4GiB"), func(s string) string { return s + "\n# reviewed\n" })
		out, ok := r.pipeline(push, "etcdform-apply")
		if ok || !strings.Contains(out, "--require-commit") {
			t.Fatalf("apply of another commit's plan: passed %v", ok)
		}
		if code := planExit(t, r.dir); code != 2 {
			t.Fatalf("a refused apply changed the lab: plan exit %d", code)
		}
	})

	t.Run("maintenance schedule leaves config work out", func(t *testing.T) {
		out, ok := r.pipeline(maintenance)
		if !ok || !passed(out, "etcdform-maintenance") || !strings.Contains(out, "Left out by --only maintenance") {
			t.Fatalf("the maintenance schedule with config work pending: passed %v", ok)
		}
		if code := planExit(t, r.dir); code != 2 {
			t.Fatalf("the maintenance schedule applied config work: plan exit %d", code)
		}
	})

	t.Run("scheduled pipeline fails on drift", func(t *testing.T) {
		out, ok := r.pipeline(schedule)
		if ok || !strings.Contains(out, "Drift - the clusters differ from main") {
			t.Fatalf("the scheduled pipeline on a drifted lab: passed %v", ok)
		}
	})
}
