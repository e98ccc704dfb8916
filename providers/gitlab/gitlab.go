package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/etcdform/etcdform/providers/comment"
)

// Config says which merge request to comment on and how.
type Config struct {
	// BaseURL is the API root, CI_API_V4_URL (https://gitlab.example.com/api/v4).
	BaseURL string
	// Project is CI_PROJECT_ID: the numeric ID or the "group/project" path.
	Project string
	// MergeRequest is CI_MERGE_REQUEST_IID, the merge request's number in
	// the project.
	MergeRequest int
	// Token is a personal, project or group access token with the api
	// scope, sent as PRIVATE-TOKEN.
	Token string
	// TokenVar names the variable the token came from, for error
	// messages (default GITLAB_TOKEN).
	TokenVar string
	Retry    comment.Retry
}

// Notes is the note thread of one merge request.
type Notes struct {
	cfg  Config
	base *url.URL
	http *retryablehttp.Client
}

var _ comment.Store = (*Notes)(nil)

// New checks cfg and returns the merge request's notes.
func New(cfg Config) (*Notes, error) {
	var missing []string
	if cfg.BaseURL == "" {
		missing = append(missing, "CI_API_V4_URL")
	}
	if cfg.Project == "" {
		missing = append(missing, "CI_PROJECT_ID")
	}
	if cfg.MergeRequest <= 0 {
		missing = append(missing, "CI_MERGE_REQUEST_IID (is this a merge request pipeline?)")
	}
	if cfg.TokenVar == "" {
		cfg.TokenVar = "GITLAB_TOKEN"
	}
	if cfg.Token == "" {
		missing = append(missing, cfg.TokenVar+" (a token with the api scope)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("gitlab: missing %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("gitlab: CI_API_V4_URL %q is not an http(s) URL", cfg.BaseURL)
	}
	return &Notes{cfg: cfg, base: u, http: comment.NewHTTPClient(cfg.Retry)}, nil
}

type note struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"`
}

// maxPages bounds List against a server that never stops paging.
const maxPages = 1000

// List implements comment.Store. System notes are left out.
func (n *Notes) List(ctx context.Context) ([]comment.Comment, error) {
	var out []comment.Comment
	page := 1
	for range maxPages {
		var notes []note
		h, err := n.call(ctx, http.MethodGet, n.notesURL("", url.Values{
			"per_page": {"100"}, "page": {strconv.Itoa(page)}, "sort": {"asc"}, "order_by": {"created_at"},
		}), nil, &notes, "list")
		if err != nil {
			return nil, err
		}
		for _, nt := range notes {
			if !nt.System {
				out = append(out, comment.Comment{ID: nt.ID, Body: nt.Body})
			}
		}
		next := strings.TrimSpace(h.Get("X-Next-Page"))
		if next == "" {
			return out, nil
		}
		np, err := strconv.Atoi(next)
		if err != nil || np <= page {
			return nil, fmt.Errorf("gitlab: listing notes: bad X-Next-Page %q after page %d", next, page)
		}
		page = np
	}
	return nil, fmt.Errorf("gitlab: listing notes: more than %d pages", maxPages)
}

// Create implements comment.Store.
func (n *Notes) Create(ctx context.Context, body string) error {
	_, err := n.call(ctx, http.MethodPost, n.notesURL("", nil), map[string]string{"body": body}, nil, "create")
	return err
}

// Update implements comment.Store.
func (n *Notes) Update(ctx context.Context, id int64, body string) error {
	_, err := n.call(ctx, http.MethodPut, n.notesURL(strconv.FormatInt(id, 10), nil), map[string]string{"body": body}, nil, "update")
	return err
}

// Delete implements comment.Store.
func (n *Notes) Delete(ctx context.Context, id int64) error {
	_, err := n.call(ctx, http.MethodDelete, n.notesURL(strconv.FormatInt(id, 10), nil), nil, nil, "delete")
	return err
}

func (n *Notes) notesURL(id string, q url.Values) string {
	p := n.base.EscapedPath() + "/projects/" + url.PathEscape(n.cfg.Project) +
		"/merge_requests/" + strconv.Itoa(n.cfg.MergeRequest) + "/notes"
	if id != "" {
		p += "/" + id
	}
	u := *n.base
	u.RawPath = p
	u.Path, _ = url.PathUnescape(p)
	u.RawQuery = q.Encode()
	return u.String()
}

func (n *Notes) call(ctx context.Context, method, u string, body, out any, what string) (http.Header, error) {
	return comment.Call(ctx, n.http, comment.Request{
		Method: method, URL: u, Body: body, Out: out,
		Header:  http.Header{"Private-Token": {n.cfg.Token}},
		Explain: func(status int, msg string) *comment.StatusError { return n.explain(status, msg, what) },
		Prefix:  "gitlab", Token: n.cfg.Token,
	})
}

func (n *Notes) explain(status int, msg, what string) *comment.StatusError {
	e := &comment.StatusError{Platform: "GitLab", Message: msg}
	project, mr, tv := n.cfg.Project, n.cfg.MergeRequest, n.cfg.TokenVar
	switch status {
	case http.StatusUnauthorized:
		e.Hint = fmt.Sprintf("the token in %s was not accepted: it is missing, expired or revoked", tv)
	case http.StatusForbidden:
		e.Hint = fmt.Sprintf("the token in %s needs the api scope and Reporter access to project %s", tv, project)
		if what == "update" || what == "delete" {
			e.Hint += "; only the author of the existing plan note (or a Maintainer) may change it, so post with the same token every time"
		}
	case http.StatusNotFound:
		e.Hint = fmt.Sprintf("no merge request !%d in project %s that this token can see: check CI_PROJECT_ID and CI_MERGE_REQUEST_IID, and that the token in %s has access to the project", mr, project, tv)
		if what == "update" || what == "delete" {
			e.Hint = "the plan note was deleted while etcdform was updating it; run the job again"
		}
	case http.StatusTooManyRequests:
		e.Hint = "rate limited, still after retrying; run the job again later"
	default:
		if status >= 500 {
			e.Hint = "GitLab failed, still after retrying; run the job again"
		}
	}
	return e
}
