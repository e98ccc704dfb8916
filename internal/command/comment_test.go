package command

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/etcdform/etcdform/internal/command/views"
	"github.com/etcdform/etcdform/plan/planfile"
	"github.com/etcdform/etcdform/plan/plantest"
	"github.com/etcdform/etcdform/providers/github/githubtest"
	"github.com/etcdform/etcdform/providers/gitlab/gitlabtest"
)

const commentToken = "glpat-cmd-T0KEN-do-not-print"

func samplePlanFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "etcdform.plan")
	if err := planfile.WriteFile(path, plantest.Sample()); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCommentGitLab(t *testing.T) {
	srv := gitlabtest.NewServer(t, "42", 7, commentToken)
	srv.AddNote("please look at etcd-4", false)
	file := samplePlanFile(t)
	env := map[string]string{
		"GITLAB_CI": "true", "CI_API_V4_URL": srv.APIURL, "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
		"GITLAB_TOKEN": commentToken,
	}
	check := func(wantCode int, wantOut, wantErr string, args ...string) {
		t.Helper()
		code, stdout, stderr := runCmd(t, env, append([]string{"comment"}, args...)...)
		if code != wantCode || !strings.Contains(stdout, wantOut) || !strings.Contains(stderr, wantErr) {
			t.Errorf("comment %v: exit %d\nstdout: %s\nstderr: %s\nwant exit %d, %q, %q", args, code, stdout, stderr, wantCode, wantOut, wantErr)
		}
		if strings.Contains(stdout+stderr, commentToken) {
			t.Errorf("the token was printed:\n%s%s", stdout, stderr)
		}
	}
	// A verification key is set, as in a merge-request pipeline, where
	// plans are unsigned: comment renders, it does not apply.
	env[envVerifyKey] = base64.StdEncoding.EncodeToString(make([]byte, ed25519.PublicKeySize))
	check(0, "Posted the plan to merge request !7: 1 comment (1 created).", "", "--plan", file)
	delete(env, envVerifyKey)
	notes := srv.Notes()
	if len(notes) != 2 || !strings.HasPrefix(notes[1].Body, views.PlanMarkerLine+"\n") || !strings.Contains(notes[1].Body, "### etcdform plan") {
		t.Fatalf("notes after the first run: %+v", notes)
	}
	check(0, "1 comment (1 unchanged)", "", "--plan", file)

	// Split into parts at a small size, then back to one.
	check(0, "created", "", "--plan", file, "--max-size", "1500")
	if n := len(srv.Notes()); n < 4 {
		t.Errorf("%d notes after splitting at 1500 bytes", n)
	}
	check(0, "deleted", "", "--plan", file)
	if n := len(srv.Notes()); n != 2 {
		t.Errorf("%d notes after joining again, want 2", n)
	}

	srv.Fail(http.MethodGet, http.StatusBadGateway, "")
	check(0, "1 unchanged", "", "--plan", file)

	srv.ReadOnly(true)
	check(1, "", "the token in GITLAB_TOKEN needs the api scope and Reporter access to project 42", "--plan", file, "--max-size", "3000")
	srv.ReadOnly(false)

	env["ETCDFORM_GITLAB_TOKEN"] = "wrong"
	check(1, "", "the token in ETCDFORM_GITLAB_TOKEN was not accepted", "--plan", file)
	delete(env, "ETCDFORM_GITLAB_TOKEN")

	delete(env, "CI_MERGE_REQUEST_IID")
	check(1, "", "missing CI_MERGE_REQUEST_IID", "--plan", file)
	delete(env, "GITLAB_TOKEN")
	check(1, "", "GITLAB_TOKEN (a token with the api scope) (or ETCDFORM_GITLAB_TOKEN)", "--plan", file)
	delete(env, "GITLAB_CI")
	check(1, "", "pass --platform gitlab or --platform github", "--plan", file)
	check(1, "", "no such file", "--plan", file+".missing", "--platform", "gitlab")
}

func TestCommentGitHub(t *testing.T) {
	srv := githubtest.NewServer(t, "acme/etcd", 12, commentToken)
	file := samplePlanFile(t)
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_API_URL": srv.URL, "GITHUB_REPOSITORY": "acme/etcd",
		"GITHUB_REF": "refs/pull/12/merge", "GITHUB_TOKEN": commentToken,
	}
	for i, want := range []string{"(1 created)", "(1 unchanged)"} {
		code, stdout, stderr := runCmd(t, env, "comment", "--plan", file)
		if code != 0 || !strings.Contains(stdout, "Posted the plan to pull request #12: 1 comment "+want) {
			t.Fatalf("run %d: exit %d\n%s%s", i+1, code, stdout, stderr)
		}
	}
	if n := len(srv.Comments()); n != 1 {
		t.Fatalf("%d comments", n)
	}
	// --pr wins over GITHUB_REF; a 403 names the permission.
	env["GITHUB_REF"] = "refs/heads/main"
	code, _, stderr := runCmd(t, env, "comment", "--plan", file)
	if code != 1 || !strings.Contains(stderr, "the pull request number (--pr") {
		t.Errorf("no PR: exit %d, %s", code, stderr)
	}
	srv.ReadOnly(true)
	code, stdout, stderr := runCmd(t, env, "comment", "--plan", file, "--pr", "12", "--max-size", "2000")
	if code != 1 || !strings.Contains(stderr, "GitHub answered 403") || !strings.Contains(stderr, "pull-requests: write") {
		t.Errorf("403: exit %d, %s", code, stderr)
	}
	if strings.Contains(stdout+stderr, commentToken) {
		t.Error("the token was printed")
	}
}

func TestCommentArguments(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"platform":   {[]string{"comment", "--platform", "bitbucket"}, "--platform must be gitlab or github"},
		"positional": {[]string{"comment", "x.plan"}, `unexpected argument "x.plan"`},
		"negative":   {[]string{"comment", "--max-size", "-1"}, "cannot be negative"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCmd(t, nil, tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q, want %q", code, stderr, tc.want)
			}
		})
	}
}

// TestCommentSections: a plan job posts its section; the pipeline's last
// job posts every section in one write, bringing back a section that was
// lost and keeping the others.
func TestCommentSections(t *testing.T) {
	srv := gitlabtest.NewServer(t, "42", 7, commentToken)
	file := samplePlanFile(t)
	env := map[string]string{
		"GITLAB_CI": "true", "CI_API_V4_URL": srv.APIURL, "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
		"GITLAB_TOKEN": commentToken,
	}
	sectionsOf := func() []string {
		notes := srv.Notes()
		if len(notes) != 1 {
			t.Fatalf("%d notes, want 1", len(notes))
		}
		var out []string
		for _, l := range strings.Split(notes[0].Body, "\n") {
			if c, ok := strings.CutPrefix(l, "<!-- etcdform:section "); ok {
				out = append(out, strings.TrimSuffix(c, " -->"))
			}
		}
		return out
	}
	code, stdout, stderr := runCmd(t, env, "comment", "--section", "c", "--plan", file)
	if code != 0 || !strings.Contains(stdout, "Posted the plan to merge request !7, section c: 1 comment (1 created).") {
		t.Fatalf("one section: exit %d\n%s%s", code, stdout, stderr)
	}
	policy := filepath.Join(t.TempDir(), "b-policy.json")
	if err := os.WriteFile(policy, []byte(`{"policies":["quota"],"violations":[{"policy":"quota","message":"lowers the quota of b"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCmd(t, env, "comment", "--section", "a", "--plan", file, "--section", "b", "--plan", file, "--policy", policy)
	if code != 0 || !strings.Contains(stdout, "Posted the plans to merge request !7, sections a, b: 1 comment (1 updated).") {
		t.Fatalf("two sections: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := sectionsOf(); strings.Join(got, ",") != "a,b,c" {
		t.Errorf("sections %v, want a, b, c", got)
	}
	// The policy result is b's alone.
	body := srv.Notes()[0].Body
	a, b := strings.Index(body, "<!-- etcdform:section a -->"), strings.Index(body, "<!-- etcdform:section b -->")
	if v := strings.Index(body, "lowers the quota of b"); a < 0 || b < a || v < b || strings.Count(body, "Policy check failed") != 1 {
		t.Errorf("the policy result is not in section b alone:\n%s", body)
	}
	// Too large for the note: each section points at its own plan.
	env["CI_JOB_URL"] = "https://gitlab.example/job/9"
	code, stdout, stderr = runCmd(t, env, "comment", "--max-size", "2000", "--section", "a", "--plan", file, "--section", "b", "--plan", file)
	body = srv.Notes()[0].Body
	if code != 0 || !strings.Contains(body, "(etcdform-a-plan.md). Job: https://gitlab.example/job/9") || !strings.Contains(body, "(etcdform-b-plan.md). Job: https://gitlab.example/job/9") {
		t.Errorf("too large: exit %d\n%s%s\n%s", code, stdout, stderr, body)
	}
	// A plan that cannot be read (its job failed before writing it) does
	// not keep the others from being posted: they are, that section keeps
	// what its own job wrote, and the command fails.
	srv.SetBody(srv.Notes()[0].ID, strings.Replace(srv.Notes()[0].Body, "<!-- etcdform:section a -->", "<!-- etcdform:section gone -->", 1))
	code, stdout, stderr = runCmd(t, env, "comment", "--section", "a", "--plan", file, "--section", "b", "--plan", file+".missing")
	if code != 1 || !strings.Contains(stderr, "section b: ") || !strings.Contains(stderr, "no such file") ||
		!strings.Contains(stderr, "Section b is not posted again") || !strings.Contains(stdout, "section a: 1 comment (1 updated)") {
		t.Errorf("a missing plan: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := sectionsOf(); !slices.Contains(got, "a") || !slices.Contains(got, "b") || !slices.Contains(got, "c") {
		t.Errorf("after a missing plan: sections %v, want a (posted again), b (kept) and c", got)
	}
	// Every plan unreadable: nothing is posted.
	before := srv.Notes()[0].Body
	code, _, stderr = runCmd(t, env, "comment", "--section", "a", "--plan", file+".missing", "--section", "b", "--plan", file+".missing")
	if code != 1 || srv.Notes()[0].Body != before {
		t.Errorf("every plan missing: exit %d, the note changed\n%s", code, stderr)
	}
}
