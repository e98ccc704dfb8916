// Package githubtest is a fake of GitHub's issue-comments REST API as a
// pull request uses it, for tests: list with Link rel="next" pagination,
// create, update (PATCH) and delete, bearer-token authentication, GitHub's
// comment size limit, and injected faults (429 with Retry-After, 5xx, 403).
package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Comment is an issue comment as the fake stores it.
type Comment struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	Author string `json:"-"`
}

// Request is a request the fake received.
type Request struct {
	Method, Path, Query string
	Time                time.Time
	Status              int
}

// Server is the fake; its URL is GITHUB_API_URL.
type Server struct {
	*httptest.Server
	// Repo ("owner/name") and PR are the only pull request that exists.
	Repo string
	PR   int
	// Token is the only accepted bearer token.
	Token string
	// MaxPerPage caps per_page (GitHub: 100).
	MaxPerPage int
	// Limit is the largest comment body in characters (GitHub: 65,536).
	Limit int

	mu       sync.Mutex
	comments []Comment
	nextID   int64
	faults   []fault
	requests []Request
	readOnly bool
}

type fault struct {
	method     string
	status     int
	retryAfter string
}

// NewServer starts a fake for pull request pr of repo and closes it when the
// test ends.
func NewServer(t testing.TB, repo string, pr int, token string) *Server {
	s := &Server{Repo: repo, PR: pr, Token: token, MaxPerPage: 100, Limit: 65_536, nextID: 5000}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Fail makes the next request with method ("" for any) answer status once.
func (s *Server) Fail(method string, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{method, status, retryAfter})
}

// ReadOnly makes every write answer 403, as for a token without
// pull-requests: write.
func (s *Server) ReadOnly(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readOnly = v
}

// AddComment stores another user's comment.
func (s *Server) AddComment(body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.comments = append(s.comments, Comment{ID: s.nextID, Body: body, Author: "someone"})
	return s.nextID
}

// Comments returns the stored comments in creation order.
func (s *Server) Comments() []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Comment(nil), s.comments...)
}

// Requests returns what the fake received.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func msg(w http.ResponseWriter, status int, m string) {
	writeJSON(w, status, map[string]string{"message": m, "documentation_url": "https://docs.github.com/rest"})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Time: time.Now()}
	sw := &statusWriter{ResponseWriter: w}
	defer func() { rec.Status = sw.status; s.requests = append(s.requests, rec) }()
	w = sw

	if len(s.faults) > 0 && (s.faults[0].method == "" || s.faults[0].method == r.Method) {
		f := s.faults[0]
		s.faults = s.faults[1:]
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		msg(w, f.status, http.StatusText(f.status))
		return
	}
	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+s.Token && auth != "token "+s.Token {
		msg(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	repo := "/repos/" + s.Repo
	path := r.URL.EscapedPath()
	if r.Method != http.MethodGet && s.readOnly {
		msg(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	switch {
	case path == repo+"/issues/"+strconv.Itoa(s.PR)+"/comments" && r.Method == http.MethodGet:
		s.list(w, r)
	case path == repo+"/issues/"+strconv.Itoa(s.PR)+"/comments" && r.Method == http.MethodPost:
		body, ok := s.body(w, r)
		if !ok {
			return
		}
		s.nextID++
		c := Comment{ID: s.nextID, Body: body, Author: "etcdform"}
		s.comments = append(s.comments, c)
		writeJSON(w, http.StatusCreated, c)
	case strings.HasPrefix(path, repo+"/issues/comments/"):
		id, err := strconv.ParseInt(strings.TrimPrefix(path, repo+"/issues/comments/"), 10, 64)
		i := s.find(id)
		if err != nil || i < 0 {
			msg(w, http.StatusNotFound, "Not Found")
			return
		}
		switch r.Method {
		case http.MethodPatch:
			if s.comments[i].Author != "etcdform" {
				msg(w, http.StatusForbidden, "Resource not accessible by integration")
				return
			}
			body, ok := s.body(w, r)
			if !ok {
				return
			}
			s.comments[i].Body = body
			writeJSON(w, http.StatusOK, s.comments[i])
		case http.MethodDelete:
			s.comments = append(s.comments[:i], s.comments[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
		default:
			msg(w, http.StatusNotFound, "Not Found")
		}
	default:
		msg(w, http.StatusNotFound, "Not Found")
	}
}

func (s *Server) find(id int64) int {
	for i, c := range s.comments {
		if c.ID == id {
			return i
		}
	}
	return -1
}

func (s *Server) body(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil {
		msg(w, http.StatusUnprocessableEntity, "Validation Failed")
		return "", false
	}
	if n := utf8.RuneCountInString(*in.Body); n > s.Limit {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"message": "Validation Failed",
			"errors":  []map[string]string{{"resource": "IssueComment", "code": "custom", "field": "body", "message": fmt.Sprintf("body is too long (maximum is %d characters)", s.Limit)}},
		})
		return "", false
	}
	return *in.Body, true
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, s.MaxPerPage)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	total := len(s.comments)
	pages := max((total+per-1)/per, 1)
	lo, hi := min((page-1)*per, total), min(page*per, total)
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s%s?per_page=%d&page=%d>; rel="%s"`, s.URL, r.URL.Path, per, p, rel)
	}
	var links []string
	if page < pages {
		links = append(links, link(page+1, "next"), link(pages, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, s.comments[lo:hi])
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
