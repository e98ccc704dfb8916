package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/providers/comment"
	"github.com/etcdform/etcdform/providers/gitlab/gitlabtest"
)

const (
	token   = "glpat-s3cr3t-T0KEN-value"
	project = "infra/etcd"
	marker  = "<!-- etcdform:plan -->"
)

func plan(steps int) string {
	var b strings.Builder
	b.WriteString(marker + "\n### etcdform plan\n\n<details><summary>Cluster <b>main</b></summary>\n\n| # | Step |\n|---:|---|\n")
	for i := range steps {
		fmt.Fprintf(&b, "| %d | restart etcd-%d |\n", i+1, i)
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

func setup(t *testing.T) (*gitlabtest.Server, *Notes) {
	t.Helper()
	srv := gitlabtest.NewServer(t, project, 7, token)
	n, err := New(Config{BaseURL: srv.APIURL, Project: project, MergeRequest: 7, Token: token,
		Retry: comment.Retry{Max: 3, WaitMin: 10 * time.Millisecond, WaitMax: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, n
}

func publish(t *testing.T, n *Notes, md string, limit int) (comment.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return comment.Publish(ctx, n, md, comment.Options{Marker: marker, Limit: limit})
}

func planNotes(srv *gitlabtest.Server) []gitlabtest.Note {
	var out []gitlabtest.Note
	for _, n := range srv.Notes() {
		if strings.HasPrefix(n.Body, marker+"\n") {
			out = append(out, n)
		}
	}
	return out
}

func TestFirstPostThenUpdateInPlace(t *testing.T) {
	srv, n := setup(t)
	srv.AddNote("Looks good", false)
	srv.AddNote("added 1 commit", true)
	if _, err := publish(t, n, plan(3), comment.GitLabLimit); err != nil {
		t.Fatal(err)
	}
	first := planNotes(srv)
	if len(first) != 1 || !strings.Contains(first[0].Body, "restart etcd-2") {
		t.Fatalf("after the first post: %+v", first)
	}
	res, err := publish(t, n, plan(5), comment.GitLabLimit)
	if err != nil {
		t.Fatal(err)
	}
	second := planNotes(srv)
	if len(second) != 1 || second[0].ID != first[0].ID || !strings.Contains(second[0].Body, "restart etcd-4") || res.Updated != 1 {
		t.Fatalf("after the update (%v): %+v, want note %d updated in place", res, second, first[0].ID)
	}
	if len(srv.Notes()) != 3 {
		t.Errorf("the thread has %d notes, want 3", len(srv.Notes()))
	}
	methods := map[string]int{}
	for _, r := range srv.Requests() {
		methods[r.Method]++
	}
	if methods[http.MethodPost] != 1 || methods[http.MethodPut] != 1 || methods[http.MethodDelete] != 0 {
		t.Errorf("requests by method: %v, want one POST and one PUT", methods)
	}
}

func TestPaginationFindsTheNoteOnALaterPage(t *testing.T) {
	srv, n := setup(t)
	srv.MaxPerPage = 2
	for i := range 5 {
		srv.AddNote(fmt.Sprintf("review comment %d", i), i%2 == 0)
	}
	if _, err := publish(t, n, plan(1), comment.GitLabLimit); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		srv.AddNote(fmt.Sprintf("later comment %d", i), false)
	}
	// The plan note is now on page 3 of 5.
	if _, err := publish(t, n, plan(2), comment.GitLabLimit); err != nil {
		t.Fatal(err)
	}
	if got := planNotes(srv); len(got) != 1 || !strings.Contains(got[0].Body, "restart etcd-1") {
		t.Fatalf("plan notes: %+v", got)
	}
	pages := map[string]bool{}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet {
			pages[r.Query] = true
			if !strings.Contains(r.Query, "per_page=100") {
				t.Errorf("list without per_page=100: %s", r.Query)
			}
		}
	}
	if len(pages) < 5 {
		t.Errorf("listed pages %v, want all 5", pages)
	}
}

func TestRetries429And502(t *testing.T) {
	srv, n := setup(t)
	srv.Fail(http.MethodGet, http.StatusTooManyRequests, "1")
	srv.Fail(http.MethodPost, http.StatusBadGateway, "")
	if _, err := publish(t, n, plan(1), comment.GitLabLimit); err != nil {
		t.Fatal(err)
	}
	if got := planNotes(srv); len(got) != 1 {
		t.Fatalf("plan notes after retries: %+v", got)
	}
	reqs := srv.Requests()
	var statuses []int
	for _, r := range reqs {
		statuses = append(statuses, r.Status)
	}
	want := []int{429, 200, 502, 201}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < time.Second {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
}

func TestDoesNotRetry4xx(t *testing.T) {
	srv, n := setup(t)
	srv.Fail(http.MethodGet, http.StatusConflict, "")
	_, err := publish(t, n, plan(1), comment.GitLabLimit)
	if !errors.Is(err, comment.ErrStatus) || len(srv.Requests()) != 1 {
		t.Fatalf("err %v after %d requests, want one request and a status error", err, len(srv.Requests()))
	}
}

func TestGivesUpAfterPersistent5xx(t *testing.T) {
	srv, n := setup(t)
	for range 4 {
		srv.Fail("", http.StatusServiceUnavailable, "")
	}
	_, err := publish(t, n, plan(1), comment.GitLabLimit)
	if err == nil || !strings.Contains(err.Error(), "GitLab answered 503") || len(srv.Requests()) != 4 {
		t.Fatalf("err %v after %d requests", err, len(srv.Requests()))
	}
}

func TestErrorsNameTheMissingPermission(t *testing.T) {
	t.Run("403", func(t *testing.T) {
		srv, n := setup(t)
		srv.ReadOnly(true)
		_, err := publish(t, n, plan(1), comment.GitLabLimit)
		want := "GitLab answered 403 Forbidden to POST /api/v4/projects/infra%2Fetcd/merge_requests/7/notes (403 Forbidden): the token in GITLAB_TOKEN needs the api scope and Reporter access to project infra/etcd"
		if err == nil || err.Error() != want {
			t.Fatalf("error:\n%v\nwant:\n%s", err, want)
		}
	})
	t.Run("401", func(t *testing.T) {
		srv := gitlabtest.NewServer(t, project, 7, token)
		n, _ := New(Config{BaseURL: srv.APIURL, Project: project, MergeRequest: 7, Token: "wrong-token", TokenVar: "ETCDFORM_GITLAB_TOKEN"})
		_, err := publish(t, n, plan(1), comment.GitLabLimit)
		if err == nil || !strings.Contains(err.Error(), "GitLab answered 401") || !strings.Contains(err.Error(), "ETCDFORM_GITLAB_TOKEN was not accepted") {
			t.Fatalf("error: %v", err)
		}
	})
	t.Run("404", func(t *testing.T) {
		srv := gitlabtest.NewServer(t, project, 7, token)
		n, _ := New(Config{BaseURL: srv.APIURL, Project: project, MergeRequest: 8, Token: token})
		_, err := publish(t, n, plan(1), comment.GitLabLimit)
		if err == nil || !strings.Contains(err.Error(), "no merge request !8 in project infra/etcd") || !strings.Contains(err.Error(), "CI_MERGE_REQUEST_IID") {
			t.Fatalf("error: %v", err)
		}
	})
	t.Run("missing variables", func(t *testing.T) {
		_, err := New(Config{BaseURL: "https://gitlab.example.com/api/v4"})
		if err == nil || !strings.Contains(err.Error(), "CI_PROJECT_ID") || !strings.Contains(err.Error(), "CI_MERGE_REQUEST_IID") || !strings.Contains(err.Error(), "GITLAB_TOKEN") {
			t.Fatalf("error: %v", err)
		}
	})
}

func TestSplitsAndReusesParts(t *testing.T) {
	srv, n := setup(t)
	srv.Limit = 1500 // the server enforces the limit the client splits at
	if _, err := publish(t, n, plan(100), 1500); err != nil {
		t.Fatal(err)
	}
	parts := planNotes(srv)
	if len(parts) < 3 {
		t.Fatalf("a long plan became %d notes", len(parts))
	}
	for i, p := range parts {
		if !strings.Contains(p.Body, fmt.Sprintf("<!-- etcdform:part %d/%d -->", i+1, len(parts))) {
			t.Errorf("note %d lacks its part line:\n%s", i, p.Body)
		}
	}
	// Shorter: the first part is updated in place, the rest deleted.
	if _, err := publish(t, n, plan(2), 1500); err != nil {
		t.Fatal(err)
	}
	after := planNotes(srv)
	if len(after) != 1 || after[0].ID != parts[0].ID {
		t.Fatalf("after shrinking: %+v (first part was %d)", after, parts[0].ID)
	}
	// Longer again: parts come back, part 1 still the same note.
	if _, err := publish(t, n, plan(100), 1500); err != nil {
		t.Fatal(err)
	}
	again := planNotes(srv)
	if len(again) != len(parts) || again[0].ID != parts[0].ID {
		t.Fatalf("after growing: %d notes, first %d", len(again), again[0].ID)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	// A server that echoes the token in its answers.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"message":"token %s lacks scope"}`, r.Header.Get("PRIVATE-TOKEN"))
	}))
	defer srv.Close()
	n, err := New(Config{BaseURL: srv.URL + "/api/v4", Project: project, MergeRequest: 7, Token: token,
		Retry: comment.Retry{Max: 2, WaitMin: 10 * time.Millisecond, WaitMax: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = publish(t, n, plan(1), comment.GitLabLimit)
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("error: %v", err)
	}
	// And a transport error (nothing listens).
	srv.Close()
	_, err = publish(t, n, plan(1), comment.GitLabLimit)
	if err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("error: %v", err)
	}
}

func TestRedirectsStayOnTheAPIHost(t *testing.T) {
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = append(leaked, r.Header.Get("PRIVATE-TOKEN"))
		fmt.Fprint(w, "[]")
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	n, err := New(Config{BaseURL: srv.URL + "/api/v4", Project: project, MergeRequest: 7, Token: token,
		Retry: comment.Retry{Max: 2, WaitMin: time.Millisecond, WaitMax: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.List(t.Context())
	if !errors.Is(err, comment.ErrRedirect) || len(leaked) > 0 || strings.Contains(err.Error(), token) {
		t.Fatalf("err %v; requests to the other host: %d", err, len(leaked))
	}
}
