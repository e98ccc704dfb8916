// Package pipeline runs the GitLab pipeline template (ci/etcdform.gitlab-ci.yml)
// for real, with gitlab-ci-local and its shell executor, against three
// labs (clusters a, b and c of one repository) and a fake GitLab Notes
// API: the per-cluster child pipeline plans and applies only the clusters
// a change touches, the merge-request comment keeps one section per
// cluster, a tampered or swapped artifact makes apply fail, and a
// maintenance schedule applies a maintenance-only plan that leaves config
// work alone.
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
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// repo is a git repository that includes the template, as an adopter's
// would, with one cluster per lab: etcd/NAME.hcl. Clusters a and b take
// their SSH user from etcd/locals.hcl, a file they share; c does not.
type repo struct {
	t    *testing.T
	dir  string
	labs map[string]*lab.State
}

// clusters are the repository's clusters, in order.
var clusters = []string{"a", "b", "c"}

const locals = "locals {\n  ssh_user = \"root\"\n}\n"

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=ci", "-c", "user.email=ci@example.com", "-C", dir}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func newRepo(t *testing.T, labs map[string]*lab.State) *repo {
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
	write(t, filepath.Join(dir, ".gitignore"), ".gitlab-ci-local/\n.gitlab-ci-local-variables.yml\nchild.gitlab-ci.yml\n")
	write(t, filepath.Join(dir, "etcd", "locals.hcl"), locals)
	git(t, dir, "init", "-q", "-b", "main")
	r := &repo{t: t, dir: dir, labs: labs}
	for _, c := range clusters {
		r.write(c)
	}
	r.commit("the labs as they are")
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

// write writes cluster's etcd/NAME.hcl: its lab's configuration with
// edits.
func (r *repo) write(cluster string, edits ...func(string) string) {
	edits = append([]func(string) string{labtest.WithName(cluster)}, edits...)
	if cluster != "c" {
		edits = append(edits, func(s string) string {
			return strings.Replace(s, `user             = "root"`, `user             = local.ssh_user`, 1)
		})
	}
	write(r.t, filepath.Join(r.dir, "etcd", cluster+".hcl"), labtest.ClusterHCL(r.t, r.labs[cluster], edits...))
}

// commit commits everything and returns the commit.
func (r *repo) commit(msg string) string {
	git(r.t, r.dir, "add", "-A")
	git(r.t, r.dir, "commit", "-q", "--allow-empty", "-m", msg)
	return git(r.t, r.dir, "rev-parse", "HEAD")
}

// pipeline runs gitlab-ci-local in the repository with extra variables and
// arguments; it returns the combined output and whether it passed.
func (r *repo) pipeline(vars map[string]string, args ...string) (string, bool) {
	r.t.Helper()
	full := []string{"--shell-executor-no-image", "--shell-isolation", "--no-artifacts-to-source", "--no-color", "--timestamps"}
	// The variables go in the project variables file, not --variable:
	// gitlab-ci-local gives that file, like GitLab's project variables,
	// to child pipelines too.
	var file strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&file, "%s: %s\n", k, strconv.Quote(vars[k]))
	}
	write(r.t, filepath.Join(r.dir, ".gitlab-ci-local-variables.yml"), file.String())
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

// child runs one job of the child pipeline the last pipeline generated,
// as GitLab would run it again, with the parent's variables.
func (r *repo) child(vars map[string]string, job string) (string, bool) {
	r.t.Helper()
	src, err := os.ReadFile(filepath.Join(r.dir, ".gitlab-ci-local", "includes", "triggers", "etcdform-fleet.yml"))
	if err != nil {
		r.t.Fatalf("the child pipeline: %v", err)
	}
	write(r.t, filepath.Join(r.dir, "child.gitlab-ci.yml"), string(src))
	all := map[string]string{"ETCDFORM_DIR": "etcd", "ETCDFORM_BIN": binary, "ETCDFORM_ENVIRONMENT": "etcd"}
	for k, v := range vars {
		all[k] = v
	}
	return r.pipeline(all, "--file", "child.gitlab-ci.yml", job)
}

// artifact is the path of a file a job of the child pipeline exported.
func (r *repo) artifact(name string) string {
	r.t.Helper()
	m, err := filepath.Glob(filepath.Join(r.dir, ".gitlab-ci-local", "artifacts", "*", name))
	if err != nil || len(m) != 1 {
		r.t.Fatalf("artifact %s: %v %v", name, m, err)
	}
	return m[0]
}

// planExit runs `etcdform plan --detailed-exitcode --cluster NAME` on the
// repository's configuration from outside the pipeline.
func planExit(t *testing.T, dir, cluster string) int {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, "plan", "--detailed-exitcode", "--cluster", cluster, filepath.Join(dir, "etcd"))
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Logf("plan --cluster %s: exit %d\n%s", cluster, ee.ExitCode(), out)
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// passed says whether gitlab-ci-local's summary has job (a child job
// too, "[etcdform-fleet] -> etcdform-plan: a") as passed.
func passed(out, job string) bool {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "PASS ") && (strings.HasSuffix(l, " "+job) || strings.HasSuffix(l, ">"+job)) {
			return true
		}
	}
	return false
}

// failed says whether gitlab-ci-local's summary has job as failed.
func failed(out, job string) bool {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "FAIL ") && strings.HasSuffix(l, " "+job) {
			return true
		}
	}
	return false
}

// ran says whether job of cluster ran in the pipeline.
func ran(out, job, cluster string) bool {
	return strings.Contains(out, job+": "+cluster+" ")
}

func sectionNotes(srv *gitlabtest.Server) []gitlabtest.Note {
	var out []gitlabtest.Note
	for _, n := range srv.Notes() {
		if strings.HasPrefix(n.Body, "<!-- etcdform:plans -->\n") {
			out = append(out, n)
		}
	}
	return out
}

// sections is the cluster sections of a sectioned note.
func sections(body string) []string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if c, ok := strings.CutPrefix(l, "<!-- etcdform:section "); ok {
			out = append(out, strings.TrimSuffix(c, " -->"))
		}
	}
	return out
}

func TestPipelineTemplate(t *testing.T) {
	labs := map[string]*lab.State{}
	for _, c := range clusters {
		labs[c] = labtest.Up(t, lab.Options{Members: 3})
	}
	r := newRepo(t, labs)
	base := git(t, r.dir, "rev-parse", "HEAD")
	srv := gitlabtest.NewServer(t, projectID, mrIID, token)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signing := map[string]string{
		"ETCDFORM_PLAN_SIGNING_KEY": base64.StdEncoding.EncodeToString(priv),
		"ETCDFORM_PLAN_VERIFY_KEY":  base64.StdEncoding.EncodeToString(pub),
	}
	mr := func(diffBase string) map[string]string {
		return map[string]string{
			"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": fmt.Sprint(mrIID),
			"CI_MERGE_REQUEST_DIFF_BASE_SHA": diffBase,
			"CI_API_V4_URL":                  srv.APIURL, "CI_PROJECT_ID": projectID, "GITLAB_TOKEN": token,
			// The public key may be set everywhere; the signing key is a
			// protected variable, absent from merge-request pipelines.
			"ETCDFORM_PLAN_VERIFY_KEY": signing["ETCDFORM_PLAN_VERIFY_KEY"],
		}
	}
	push := func(before string) map[string]string {
		// GITLAB_USER_LOGIN is who pressed the manual apply job.
		v := map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BEFORE_SHA": before, "GITLAB_USER_LOGIN": "approver-alice"}
		for k, val := range signing {
			v[k] = val
		}
		return v
	}

	r.write("c", labtest.WithStorage("3GiB"))
	changeC := r.commit("c: quota 3GiB")

	t.Run("a change to one cluster plans only that cluster", func(t *testing.T) {
		out, ok := r.pipeline(mr(base))
		if !ok || !passed(out, "etcdform-validate") || !passed(out, "etcdform-clusters") || !passed(out, "etcdform-plan: c") || !passed(out, "etcdform-comment") {
			t.Fatalf("the merge-request pipeline failed")
		}
		for _, c := range []string{"a", "b"} {
			if ran(out, "etcdform-plan", c) {
				t.Errorf("cluster %s was planned for a change to c alone", c)
			}
		}
		if ran(out, "etcdform-apply", "c") || strings.Contains(out, "etcdform-drift") {
			t.Errorf("apply or drift ran in a merge-request pipeline")
		}
		notes := sectionNotes(srv)
		if len(notes) != 1 || !slices.Equal(sections(notes[0].Body), []string{"c"}) || !strings.Contains(notes[0].Body, "quota-backend-bytes") {
			t.Fatalf("plan notes: %+v", notes)
		}
		if code := planExit(t, r.dir, "c"); code != 2 {
			t.Fatalf("the lab changed in a merge-request pipeline (plan exit %d)", code)
		}
	})

	t.Run("ETCDFORM_STRICT fails validate on a risky default", func(t *testing.T) {
		strict := mr(base)
		strict["ETCDFORM_STRICT"] = "true"
		out, ok := r.pipeline(strict, "etcdform-validate")
		if ok || passed(out, "etcdform-validate") {
			t.Fatal("validate passed under ETCDFORM_STRICT on labs that keep etcd's risky defaults without accept_risk")
		}
		if !strings.Contains(out, "accept_risk") || !strings.Contains(out, "--strict") {
			t.Errorf("the failing validate job does not name the risk and its accept_risk way out")
		}
	})

	t.Run("the default branch applies only the changed cluster", func(t *testing.T) {
		out, ok := r.pipeline(push(base), "--manual", "etcdform-apply: c")
		if !ok || !passed(out, "etcdform-plan: c") || !passed(out, "etcdform-apply: c") {
			t.Fatalf("the default-branch pipeline failed")
		}
		for _, c := range []string{"a", "b"} {
			if ran(out, "etcdform-plan", c) || ran(out, "etcdform-apply", c) {
				t.Errorf("cluster %s has a job in the pipeline of a change to c alone", c)
			}
		}
		if code := planExit(t, r.dir, "c"); code != 0 {
			t.Fatalf("cluster c did not converge: plan exit %d", code)
		}
		audit, err := os.ReadFile(r.artifact("etcdform-c-audit.jsonl"))
		if err != nil || !strings.Contains(string(audit), `"approver":"approver-alice"`) || !strings.Contains(string(audit), `"job_url":"http`) ||
			!strings.Contains(string(audit), `"kind":"record"`) || !strings.Contains(string(audit), `"cluster":"c","outcome":"in-cluster record /etcdform/audit/c/`) {
			t.Errorf("the audit file does not name the approver, the job and the in-cluster record (%v):\n%s", err, audit)
		}
		cmd := exec.CommandContext(t.Context(), binary, "audit", "--verify", "--cluster", "c", filepath.Join(r.dir, "etcd"))
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "#1 ") || !strings.Contains(string(out), "approved by approver-alice") {
			t.Errorf("audit --verify --cluster c: %v\n%s", err, out)
		}
		if n := len(sectionNotes(srv)); n != 1 {
			t.Errorf("a default-branch pipeline changed the comments: %d", n)
		}
	})

	// The example policies, and a change that lowers c's quota.
	policies, err := filepath.Glob("../../../examples/policies/*.rego")
	if err != nil || len(policies) < 4 {
		t.Fatalf("example policies: %v %v", policies, err)
	}
	for _, f := range policies {
		if !strings.HasSuffix(f, "_test.rego") {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(r.dir, "policies", filepath.Base(f)), string(data))
		}
	}
	r.write("c", labtest.WithStorage("2GiB"))
	r.commit("c: quota 2GiB")
	withPolicy := func(v map[string]string) map[string]string {
		v["ETCDFORM_POLICY_DIR"] = "policies"
		v["ETCDFORM_OPA"] = os.Getenv("ETCDFORM_OPA")
		return v
	}

	t.Run("a policy violation is shown in the comment and blocks the apply", func(t *testing.T) {
		if os.Getenv("ETCDFORM_OPA") == "" {
			t.Fatal("ETCDFORM_OPA is not set (make test-pipeline installs OPA)")
		}
		out, _ := r.pipeline(withPolicy(mr(changeC)))
		if !passed(out, "etcdform-plan: c") || !failed(out, "etcdform-policy: c") {
			t.Fatalf("the merge-request pipeline: plan passed %v, policy failed %v", passed(out, "etcdform-plan: c"), failed(out, "etcdform-policy: c"))
		}
		notes := sectionNotes(srv)
		if len(notes) != 1 || !strings.Contains(notes[0].Body, "Policy check failed") || !strings.Contains(notes[0].Body, "lowers the quota of c/") {
			t.Fatalf("the comment does not show the violation: %+v", notes)
		}
		out, _ = r.pipeline(withPolicy(push(changeC)), "--manual", "etcdform-apply: c")
		if !failed(out, "etcdform-policy: c") || passed(out, "etcdform-apply: c") || strings.Contains(out, "etcdform-apply: c starting") {
			t.Fatalf("the default-branch pipeline: policy failed %v, apply passed %v", failed(out, "etcdform-policy: c"), passed(out, "etcdform-apply: c"))
		}
		if code := planExit(t, r.dir, "c"); code != 2 {
			t.Fatalf("the quota decrease was applied despite the policy: plan exit %d", code)
		}
	})

	r.write("c", labtest.WithStorage("3GiB"))
	revertC := r.commit("c: quota 3GiB again")
	write(t, filepath.Join(r.dir, "etcd", "locals.hcl"), "# SSH as root on every host.\n"+locals)
	shared := r.commit("locals: a comment")

	t.Run("a shared file plans the clusters that use it; each updates its own section", func(t *testing.T) {
		before := sectionNotes(srv)
		out, ok := r.pipeline(mr(revertC))
		if !ok || !passed(out, "etcdform-plan: a") || !passed(out, "etcdform-plan: b") {
			t.Fatalf("the merge-request pipeline failed")
		}
		if ran(out, "etcdform-plan", "c") {
			t.Errorf("cluster c, which does not use locals.hcl, was planned")
		}
		notes := sectionNotes(srv)
		if len(notes) != 1 || notes[0].ID != before[0].ID || !slices.Equal(sections(notes[0].Body), []string{"a", "b", "c"}) {
			t.Fatalf("after the second pipeline: %+v, want note %d alone with sections a, b, c", notes, before[0].ID)
		}
		if !strings.Contains(notes[0].Body, "No changes. The selected clusters (a) match") {
			t.Errorf("section a does not say a has no changes:\n%s", notes[0].Body)
		}
		if !passed(out, "etcdform-comment") {
			t.Errorf("the child pipeline's last job, which posts every section once more, did not pass")
		}

		// Two plan jobs writing at once lost section a (a write in flight
		// past the other's settle time): the last job puts it back.
		body := notes[0].Body
		start, end := strings.Index(body, "<!-- etcdform:section a -->"), strings.Index(body, "<!-- etcdform:section-end a -->\n")
		if start < 0 || end < start {
			t.Fatalf("no section a in:\n%s", body)
		}
		srv.SetBody(notes[0].ID, body[:start]+body[end+len("<!-- etcdform:section-end a -->\n"):])
		if got := sections(sectionNotes(srv)[0].Body); !slices.Equal(got, []string{"b", "c"}) {
			t.Fatalf("sections after removing a: %v", got)
		}
		out, ok = r.child(mr(revertC), "etcdform-comment")
		if !ok || !passed(out, "etcdform-comment") {
			t.Fatalf("the comment job alone failed")
		}
		notes = sectionNotes(srv)
		if len(notes) != 1 || !slices.Equal(sections(notes[0].Body), []string{"a", "b", "c"}) || notes[0].Body != body {
			t.Errorf("after the comment job: %+v, want the note as the pipeline left it:\n%s", notes, body)
		}
	})

	schedule := map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "schedule"}
	t.Run("scheduled pipeline without drift passes", func(t *testing.T) {
		out, ok := r.pipeline(schedule)
		if !ok || !passed(out, "etcdform-drift") {
			t.Fatal("the scheduled pipeline failed on converged labs")
		}
		if strings.Contains(out, "etcdform-clusters") || strings.Contains(out, "etcdform-fleet") || strings.Contains(out, "etcdform-maintenance") {
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
			t.Fatal("the maintenance schedule failed on converged labs")
		}
		if strings.Contains(out, "etcdform-drift") || strings.Contains(out, "etcdform-fleet") {
			t.Error("drift or apply ran in a maintenance schedule")
		}
		if code := planExit(t, r.dir, "c"); code != 0 {
			t.Fatalf("the maintenance schedule changed a converged lab: plan exit %d", code)
		}
	})

	r.write("c", labtest.WithStorage("4GiB"))
	r.commit("c: quota 4GiB")
	childVars := func() map[string]string {
		v := push(shared)
		v["CI_COMMIT_SHA"] = git(t, r.dir, "rev-parse", "HEAD")
		return v
	}

	t.Run("a modified artifact is refused", func(t *testing.T) {
		if out, ok := r.pipeline(push(shared)); !ok || !passed(out, "etcdform-plan: c") {
			t.Fatal("the plan job failed")
		}
		artifact := r.artifact("etcdform-c.plan")
		data, err := os.ReadFile(artifact)
		if err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Replace(data, []byte(`4294967296`), []byte(`4294967297`), 1)
		if bytes.Equal(tampered, data) {
			t.Fatal("the plan artifact does not hold the new quota")
		}
		write(t, artifact, string(tampered))
		out, ok := r.child(childVars(), "etcdform-apply: c")
		if ok || !strings.Contains(out, "corrupted or was modified") {
			t.Fatalf("apply of a modified plan: passed %v", ok)
		}
	})

	t.Run("a swapped, unsigned artifact is refused", func(t *testing.T) {
		// A well-formed plan of the same commit, made without the key.
		cmd := exec.CommandContext(t.Context(), binary, "plan", "--cluster", "c", "--out", r.artifact("etcdform-c.plan"), filepath.Join(r.dir, "etcd"))
		cmd.Env = append(os.Environ(), "CI_COMMIT_SHA="+git(t, r.dir, "rev-parse", "HEAD"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("plan: %v\n%s", err, out)
		}
		out, ok := r.child(childVars(), "etcdform-apply: c")
		if ok || !strings.Contains(out, "the plan is not signed") {
			t.Fatalf("apply of an unsigned plan: passed %v", ok)
		}
	})

	t.Run("a plan of another commit is refused", func(t *testing.T) {
		if _, ok := r.pipeline(push(shared)); !ok {
			t.Fatal("the plan job failed")
		}
		r.write("c", labtest.WithStorage("4GiB"), func(s string) string { return s + "\n# reviewed\n" })
		r.commit("an unrelated commit")
		out, ok := r.child(childVars(), "etcdform-apply: c")
		if ok || !strings.Contains(out, "--require-commit") {
			t.Fatalf("apply of another commit's plan: passed %v", ok)
		}
		if code := planExit(t, r.dir, "c"); code != 2 {
			t.Fatalf("a refused apply changed the lab: plan exit %d", code)
		}
	})

	t.Run("maintenance schedule leaves config work out", func(t *testing.T) {
		out, ok := r.pipeline(maintenance)
		if !ok || !passed(out, "etcdform-maintenance") || !strings.Contains(out, "Left out by --only maintenance") {
			t.Fatalf("the maintenance schedule with config work pending: passed %v", ok)
		}
		if code := planExit(t, r.dir, "c"); code != 2 {
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

// TestExamplePolicies: OPA's own test runner passes every test of the
// example policies, and each policy has a test with a plan it passes and
// one with a plan it fails.
func TestExamplePolicies(t *testing.T) {
	opa := os.Getenv("ETCDFORM_OPA")
	if opa == "" {
		t.Fatal("ETCDFORM_OPA is not set (make test-pipeline installs OPA)")
	}
	out, err := exec.CommandContext(t.Context(), opa, "test", "-v", "../../../examples/policies").CombinedOutput()
	t.Logf("opa test:\n%s", out)
	if err != nil {
		t.Fatalf("opa test: %v", err)
	}
	policies, err := filepath.Glob("../../../examples/policies/*.rego")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range policies {
		if strings.HasSuffix(f, "_test.rego") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(f), ".rego")
		for _, kind := range []string{"passes", "fails"} {
			re := regexp.MustCompile(`data\.etcdform_test\.` + name + `\.test_\w*` + kind + `: PASS`)
			if !re.Match(out) {
				t.Errorf("policy %s has no passing test_*%s", name, kind)
			}
		}
	}
	if n < 4 {
		t.Errorf("%d example policies, want the 4 of issue 19", n)
	}
}
