// Package gitlabtest is a fake of the GitLab v4 merge-request Notes API for
// tests: list with offset pagination (X-Page, X-Next-Page, X-Total-Pages),
// create, update and delete, PRIVATE-TOKEN authentication, GitLab's note
// size limit, and injected faults (429 with Retry-After, 5xx, 403).
package gitlabtest

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

// Note is a note as the fake stores it.
type Note struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"`
	Author string `json:"-"`
}

// Request is a request the fake received.
type Request struct {
	Method, Path, Query string
	Time                time.Time
	Status              int
}

// Server is the fake. Its API root (CI_API_V4_URL) is APIURL.
type Server struct {
	*httptest.Server
	APIURL string
	// Project and MR are the only merge request that exists.
	Project string
	MR      int
	// Token is the only accepted PRIVATE-TOKEN.
	Token string
	// MaxPerPage caps per_page (GitLab: 100); tests lower it to page.
	MaxPerPage int
	// Limit is the largest note body in characters (GitLab: 1,000,000).
	Limit int

	mu       sync.Mutex
	notes    []Note
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

// NewServer starts a fake for merge request !mr of project and closes it
// when the test ends.
func NewServer(t testing.TB, project string, mr int, token string) *Server {
	s := &Server{Project: project, MR: mr, Token: token, MaxPerPage: 100, Limit: 1_000_000, nextID: 1000}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	s.APIURL = s.URL + "/api/v4"
	t.Cleanup(s.Close)
	return s
}

// Fail makes the next request with method ("" for any) answer status once,
// with a Retry-After header when retryAfter is not empty.
func (s *Server) Fail(method string, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{method, status, retryAfter})
}

// ReadOnly makes every write answer 403, as for a token without the api
// scope or a Guest.
func (s *Server) ReadOnly(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readOnly = v
}

// AddNote stores a note (another user's comment, a system note).
func (s *Server) AddNote(body string, system bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.notes = append(s.notes, Note{ID: s.nextID, Body: body, System: system, Author: "someone"})
	return s.nextID
}

// SetBody replaces note id's body as another writer would.
func (s *Server) SetBody(id int64, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.find(id); i >= 0 {
		s.notes[i].Body = body
	}
}

// Notes returns the stored notes in creation order.
func (s *Server) Notes() []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Note(nil), s.notes...)
}

// Requests returns what the fake received.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func msg(w http.ResponseWriter, status int, m string) {
	writeJSON(w, status, map[string]string{"message": m})
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
	if r.Header.Get("PRIVATE-TOKEN") != s.Token {
		msg(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	// /api/v4/projects/:id/merge_requests/:iid/notes[/:note_id]; :id is
	// a number or a URL-encoded path.
	prefix := "/api/v4/projects/" + urlEscape(s.Project) + "/merge_requests/" + strconv.Itoa(s.MR) + "/notes"
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, prefix) {
		msg(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	rest := strings.TrimPrefix(path, prefix)
	if r.Method != http.MethodGet && s.readOnly {
		msg(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	switch {
	case rest == "" && r.Method == http.MethodGet:
		s.list(w, r)
	case rest == "" && r.Method == http.MethodPost:
		body, ok := s.body(w, r)
		if !ok {
			return
		}
		s.nextID++
		n := Note{ID: s.nextID, Body: body, Author: "etcdform"}
		s.notes = append(s.notes, n)
		writeJSON(w, http.StatusCreated, n)
	case strings.HasPrefix(rest, "/"):
		id, err := strconv.ParseInt(rest[1:], 10, 64)
		i := s.find(id)
		if err != nil || i < 0 {
			msg(w, http.StatusNotFound, "404 Not found")
			return
		}
		switch r.Method {
		case http.MethodPut:
			if s.notes[i].Author != "etcdform" {
				msg(w, http.StatusForbidden, "403 Forbidden")
				return
			}
			body, ok := s.body(w, r)
			if !ok {
				return
			}
			s.notes[i].Body = body
			writeJSON(w, http.StatusOK, s.notes[i])
		case http.MethodDelete:
			s.notes = append(s.notes[:i], s.notes[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
		default:
			msg(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
		}
	default:
		msg(w, http.StatusNotFound, "404 Not Found")
	}
}

func (s *Server) find(id int64) int {
	for i, n := range s.notes {
		if n.ID == id {
			return i
		}
	}
	return -1
}

func (s *Server) body(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil || *in.Body == "" {
		msg(w, http.StatusBadRequest, "400 Bad request - body is missing")
		return "", false
	}
	if n := utf8.RuneCountInString(*in.Body); n > s.Limit {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"note": {fmt.Sprintf("is too long (maximum is %d characters)", s.Limit)}}})
		return "", false
	}
	return *in.Body, true
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 20
	}
	per = min(per, s.MaxPerPage)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	total := len(s.notes)
	pages := max((total+per-1)/per, 1)
	lo, hi := min((page-1)*per, total), min(page*per, total)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Next-Page", "")
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
	}
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
	}
	writeJSON(w, http.StatusOK, s.notes[lo:hi])
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c == '/' {
			b.WriteString("%2F")
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
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
