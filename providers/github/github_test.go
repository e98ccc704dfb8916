package github

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/providers/comment"
	"github.com/etcdform/etcdform/providers/github/githubtest"
)

const (
	token  = "ghs_s3cr3tT0KENvalue"
	repo   = "acme/etcd-config"
	marker = "<!-- etcdform:plan -->"
)

func plan(steps int) string {
	var b strings.Builder
	b.WriteString(marker + "\n### etcdform plan\n\n<details><summary>Cluster <b>main</b></summary>\n\n```\n")
	for i := range steps {
		fmt.Fprintf(&b, "restart etcd-%d\n", i)
	}
	b.WriteString("```\n\n</details>\n")
	return b.String()
}

func setup(t *testing.T) (*githubtest.Server, *Comments) {
	t.Helper()
	srv := githubtest.NewServer(t, repo, 12, token)
	c, err := New(Config{BaseURL: srv.URL, Repository: repo, PullRequest: 12, Token: token,
		Retry: comment.Retry{Max: 3, WaitMin: 10 * time.Millisecond, WaitMax: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func publish(t *testing.T, c *Comments, md string, limit int) (comment.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return comment.Publish(ctx, c, md, comment.Options{Marker: marker, Limit: limit})
}

func planComments(srv *githubtest.Server) []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range srv.Comments() {
		if strings.HasPrefix(c.Body, marker+"\n") {
			out = append(out, c)
		}
	}
	return out
}

func TestFirstPostThenUpdateInPlaceAcrossPages(t *testing.T) {
	srv, c := setup(t)
	srv.MaxPerPage = 2
	srv.AddComment("first review")
	if _, err := publish(t, c, plan(2), comment.GitHubLimit); err != nil {
		t.Fatal(err)
	}
	first := planComments(srv)
	if len(first) != 1 {
		t.Fatalf("after the first post: %+v", first)
	}
	for i := range 6 {
		srv.AddComment(fmt.Sprintf("later %d", i))
	}
	if _, err := publish(t, c, plan(4), comment.GitHubLimit); err != nil {
		t.Fatal(err)
	}
	got := planComments(srv)
	if len(got) != 1 || got[0].ID != first[0].ID || !strings.Contains(got[0].Body, "restart etcd-3") {
		t.Fatalf("after the update: %+v, want comment %d updated in place", got, first[0].ID)
	}
	var patches, gets int
	for _, r := range srv.Requests() {
		switch r.Method {
		case http.MethodPatch:
			patches++
			if r.Path != fmt.Sprintf("/repos/%s/issues/comments/%d", repo, first[0].ID) {
				t.Errorf("PATCH %s", r.Path)
			}
		case http.MethodGet:
			gets++
		}
	}
	if patches != 1 || gets < 1+4 {
		t.Errorf("%d PATCHes and %d GETs; want 1 and the 4 pages of the second listing", patches, gets)
	}
}

func TestRetries429And502(t *testing.T) {
	srv, c := setup(t)
	srv.Fail(http.MethodPost, http.StatusTooManyRequests, "1")
	srv.Fail(http.MethodPost, http.StatusBadGateway, "")
	if _, err := publish(t, c, plan(1), comment.GitHubLimit); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	var statuses []int
	for _, r := range reqs {
		statuses = append(statuses, r.Status)
	}
	if fmt.Sprint(statuses) != fmt.Sprint([]int{200, 429, 502, 201}) {
		t.Fatalf("statuses %v", statuses)
	}
	if gap := reqs[2].Time.Sub(reqs[1].Time); gap < time.Second {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
	if n := len(planComments(srv)); n != 1 {
		t.Errorf("%d plan comments", n)
	}
}

func TestErrors(t *testing.T) {
	t.Run("403", func(t *testing.T) {
		srv, c := setup(t)
		srv.ReadOnly(true)
		_, err := publish(t, c, plan(1), comment.GitHubLimit)
		if err == nil || !strings.HasPrefix(err.Error(), "GitHub answered 403 Forbidden to POST /repos/acme/etcd-config/issues/12/comments (Resource not accessible by integration): the token in GITHUB_TOKEN needs the pull-requests: write permission on acme/etcd-config") {
			t.Fatalf("error: %v", err)
		}
		if len(srv.Requests()) != 2 {
			t.Errorf("%d requests: a 403 must not be retried", len(srv.Requests()))
		}
	})
	t.Run("404", func(t *testing.T) {
		srv := githubtest.NewServer(t, repo, 12, token)
		c, _ := New(Config{BaseURL: srv.URL, Repository: "acme/other", PullRequest: 12, Token: token})
		_, err := publish(t, c, plan(1), comment.GitHubLimit)
		if err == nil || !strings.Contains(err.Error(), "no pull request #12 in acme/other") {
			t.Fatalf("error: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := New(Config{BaseURL: "https://api.github.com", Repository: "noslash"})
		if err == nil || !strings.Contains(err.Error(), "GITHUB_REPOSITORY") || !strings.Contains(err.Error(), "--pr") || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
			t.Fatalf("error: %v", err)
		}
	})
}

func TestSplitsAtTheLimit(t *testing.T) {
	srv, c := setup(t)
	srv.Limit = 800
	if _, err := publish(t, c, plan(200), 800); err != nil {
		t.Fatal(err)
	}
	parts := planComments(srv)
	if len(parts) < 4 {
		t.Fatalf("%d parts", len(parts))
	}
	for i, p := range parts {
		if strings.Count(p.Body, "```")%2 != 0 || strings.Count(p.Body, "<details>") != strings.Count(p.Body, "</details>") {
			t.Errorf("part %d is unbalanced:\n%s", i+1, p.Body)
		}
	}
	if _, err := publish(t, c, plan(1), 800); err != nil {
		t.Fatal(err)
	}
	if got := planComments(srv); len(got) != 1 || got[0].ID != parts[0].ID {
		t.Fatalf("after shrinking: %+v", got)
	}
}

func TestNextPageMustStayOnTheAPIHost(t *testing.T) {
	var evil *httptest.Server
	evilHit := false
	evil = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { evilHit = true }))
	defer evil.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/steal?page=2>; rel="next"`, evil.URL))
		fmt.Fprint(w, "[]")
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, Repository: repo, PullRequest: 12, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(t.Context())
	if err == nil || evilHit || strings.Contains(err.Error(), token) {
		t.Fatalf("err %v, other host contacted: %v", err, evilHit)
	}
}

func TestSecondaryRateLimitIsExplained(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`)
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, Repository: repo, PullRequest: 12, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(t.Context())
	if err == nil || !strings.Contains(err.Error(), "secondary rate limit (a 403, not retried)") || strings.Contains(err.Error(), "pull-requests: write") {
		t.Fatalf("error: %v", err)
	}
}
