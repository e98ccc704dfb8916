package github

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

// Config says which pull request to comment on and how.
type Config struct {
	// BaseURL is the API root, GITHUB_API_URL (https://api.github.com).
	BaseURL string
	// Repository is GITHUB_REPOSITORY, "owner/name".
	Repository string
	// PullRequest is the pull request's number.
	PullRequest int
	// Token is sent as a bearer token; it needs pull-requests: write.
	Token string
	// TokenVar names the variable the token came from, for error
	// messages (default GITHUB_TOKEN).
	TokenVar string
	Retry    comment.Retry
}

// Comments is the comment thread of one pull request.
type Comments struct {
	cfg  Config
	base *url.URL
	http *retryablehttp.Client
}

var _ comment.Store = (*Comments)(nil)

// New checks cfg and returns the pull request's comments.
func New(cfg Config) (*Comments, error) {
	var missing []string
	if cfg.BaseURL == "" {
		missing = append(missing, "GITHUB_API_URL")
	}
	if owner, name, ok := strings.Cut(cfg.Repository, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		missing = append(missing, fmt.Sprintf("GITHUB_REPOSITORY as owner/name (got %q)", cfg.Repository))
	}
	if cfg.PullRequest <= 0 {
		missing = append(missing, "the pull request number (--pr, or GITHUB_REF refs/pull/N/merge in a pull_request workflow)")
	}
	if cfg.TokenVar == "" {
		cfg.TokenVar = "GITHUB_TOKEN"
	}
	if cfg.Token == "" {
		missing = append(missing, cfg.TokenVar)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("github: missing %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("github: GITHUB_API_URL %q is not an http(s) URL", cfg.BaseURL)
	}
	return &Comments{cfg: cfg, base: u, http: comment.NewHTTPClient(cfg.Retry)}, nil
}

type issueComment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
}

const maxPages = 1000

// List implements comment.Store, following the Link header's rel="next",
// which must stay on the API's host (the token goes nowhere else).
func (c *Comments) List(ctx context.Context) ([]comment.Comment, error) {
	var out []comment.Comment
	next := c.url("/issues/"+strconv.Itoa(c.cfg.PullRequest)+"/comments", url.Values{"per_page": {"100"}})
	for range maxPages {
		var page []issueComment
		h, err := c.call(ctx, http.MethodGet, next, nil, &page, "list")
		if err != nil {
			return nil, err
		}
		for _, ic := range page {
			out = append(out, comment.Comment{ID: ic.ID, Body: ic.Body})
		}
		link := nextLink(h.Values("Link"))
		if link == "" {
			return out, nil
		}
		u, err := c.base.Parse(link)
		if err != nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host {
			return nil, fmt.Errorf("github: listing comments: the next page %q is not on %s", link, c.base.Host)
		}
		next = u.String()
	}
	return nil, fmt.Errorf("github: listing comments: more than %d pages", maxPages)
}

// Create implements comment.Store.
func (c *Comments) Create(ctx context.Context, body string) error {
	_, err := c.call(ctx, http.MethodPost, c.url("/issues/"+strconv.Itoa(c.cfg.PullRequest)+"/comments", nil), map[string]string{"body": body}, nil, "create")
	return err
}

// Update implements comment.Store.
func (c *Comments) Update(ctx context.Context, id int64, body string) error {
	_, err := c.call(ctx, http.MethodPatch, c.url("/issues/comments/"+strconv.FormatInt(id, 10), nil), map[string]string{"body": body}, nil, "update")
	return err
}

// Delete implements comment.Store.
func (c *Comments) Delete(ctx context.Context, id int64) error {
	_, err := c.call(ctx, http.MethodDelete, c.url("/issues/comments/"+strconv.FormatInt(id, 10), nil), nil, nil, "delete")
	return err
}

func (c *Comments) url(rest string, q url.Values) string {
	owner, name, _ := strings.Cut(c.cfg.Repository, "/")
	p := c.base.EscapedPath() + "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + rest
	u := *c.base
	u.RawPath = p
	u.Path, _ = url.PathUnescape(p)
	u.RawQuery = q.Encode()
	return u.String()
}

// nextLink finds rel="next" in Link headers: <URL>; rel="next", ...
func nextLink(headers []string) string {
	for _, h := range headers {
		for _, part := range strings.Split(h, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
					return strings.Trim(strings.TrimSpace(target), "<>")
				}
			}
		}
	}
	return ""
}

func (c *Comments) call(ctx context.Context, method, u string, body, out any, what string) (http.Header, error) {
	return comment.Call(ctx, c.http, comment.Request{
		Method: method, URL: u, Body: body, Out: out,
		Header: http.Header{
			"Authorization":        {"Bearer " + c.cfg.Token},
			"X-Github-Api-Version": {"2022-11-28"},
		},
		Explain: func(status int, msg string) *comment.StatusError { return c.explain(status, msg, what) },
		Prefix:  "github", Token: c.cfg.Token,
	})
}

func (c *Comments) explain(status int, msg, what string) *comment.StatusError {
	e := &comment.StatusError{Platform: "GitHub", Message: msg}
	repo, pr, tv := c.cfg.Repository, c.cfg.PullRequest, c.cfg.TokenVar
	switch status {
	case http.StatusUnauthorized:
		e.Hint = fmt.Sprintf("the token in %s was not accepted: it is missing, expired or revoked", tv)
	case http.StatusForbidden:
		if strings.Contains(strings.ToLower(msg), "rate limit") {
			e.Hint = "GitHub's secondary rate limit (a 403, not retried); run the job again later"
			break
		}
		e.Hint = fmt.Sprintf("the token in %s needs the pull-requests: write permission on %s (in a workflow: `permissions: pull-requests: write`; a fine-grained token: Pull requests read and write); pull requests from forks get a read-only token", tv, repo)
		if what == "update" || what == "delete" {
			e.Hint += "; only the author of the existing plan comment may change it, so post with the same token every time"
		}
	case http.StatusNotFound:
		e.Hint = fmt.Sprintf("no pull request #%d in %s that this token can see: check GITHUB_REPOSITORY and the pull request number (--pr or GITHUB_REF), and that the token in %s has access to the repository", pr, repo, tv)
		if what == "update" || what == "delete" {
			e.Hint = "the plan comment was deleted while etcdform was updating it; run the job again"
		}
	case http.StatusTooManyRequests:
		e.Hint = "rate limited, still after retrying; run the job again later"
	default:
		if status >= 500 {
			e.Hint = "GitHub failed, still after retrying; run the job again"
		}
	}
	return e
}
