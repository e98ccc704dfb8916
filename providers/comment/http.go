package comment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// ErrRedirect is returned (wrapped) for a redirect to another host, which
// is never followed, so that the token stays with the API.
var ErrRedirect = errors.New("comment: refused to follow a redirect")

// Retry bounds the retrying of 429 and 5xx answers.
type Retry struct {
	// Max is the number of retries after the first attempt (default 4).
	Max int
	// WaitMin and WaitMax bound the exponential backoff (defaults 1s and
	// 30s). WaitMax also caps a server's Retry-After.
	WaitMin, WaitMax time.Duration
}

// NewHTTPClient returns a go-retryablehttp client that retries transport
// errors, 429 and 5xx (but not 501), never another 4xx; waits as the
// server's Retry-After says on 429 and 503, else backs off exponentially;
// hands the last answer back (PassthroughErrorHandler) so callers can
// explain it; and logs nothing, so no request detail reaches a log.
func NewHTTPClient(r Retry) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.HTTPClient.Timeout = 30 * time.Second
	c.Logger = nil
	c.RetryMax = 4
	if r.Max > 0 {
		c.RetryMax = r.Max
	}
	c.RetryWaitMin, c.RetryWaitMax = time.Second, 30*time.Second
	if r.WaitMin > 0 {
		c.RetryWaitMin = r.WaitMin
	}
	if r.WaitMax > 0 {
		c.RetryWaitMax = r.WaitMax
	}
	// Go forwards custom headers such as PRIVATE-TOKEN on redirects, even
	// to another host: follow redirects only within the API's host.
	c.HTTPClient.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			return fmt.Errorf("%w: to %s", ErrRedirect, req.URL.Host)
		}
		if len(via) >= 5 {
			return fmt.Errorf("%w: more than 5", ErrRedirect)
		}
		return nil
	}
	c.CheckRetry = CheckRetry
	c.Backoff = Backoff
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c
}

// CheckRetry is the retry policy: transport errors (as go-retryablehttp's
// default policy judges them: not TLS, scheme or redirect errors), 429, and
// 5xx other than 501. Any other status, 4xx in particular, is final.
func CheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if errors.Is(err, ErrRedirect) {
		return false, err
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return true, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// Backoff waits what a 429 or 503 answer's Retry-After asks (seconds or an
// HTTP date), at most max; otherwise min doubled per attempt, at most max.
func Backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return clamp(d, 0, max)
		}
	}
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	return clamp(d, min, max)
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return time.Duration(minmax(int64(d), int64(lo), int64(hi)))
}

func minmax(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Redact returns err with every occurrence of secret replaced, keeping
// errors.Is/As working. A nil err stays nil.
func Redact(err error, secret string) error {
	if err == nil || len(secret) < 4 {
		return err
	}
	return &redacted{err: err, secret: secret}
}

type redacted struct {
	err    error
	secret string
}

func (r *redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.secret, "[REDACTED]") }
func (r *redacted) Unwrap() error { return r.err }

// StatusError is a final non-2xx answer, explained for the person running
// the pipeline.
type StatusError struct {
	// Platform is "GitLab" or "GitHub".
	Platform string
	Method   string
	// Path is the request's path (never its headers, where the token is).
	Path   string
	Status int
	// Message is the platform's own message, if any; Hint what to do.
	Message, Hint string
}

func (e *StatusError) Error() string {
	s := e.Platform + " answered " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + " to " + e.Method + " " + e.Path
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// ErrStatus matches every *StatusError with errors.Is.
var ErrStatus = errors.New("comment: unexpected HTTP status")

func (e *StatusError) Is(target error) bool { return target == ErrStatus }

// maxAnswer bounds the answer bodies read.
const maxAnswer = 16 << 20

// Request is one API call for Call.
type Request struct {
	Method, URL string
	Header      http.Header
	// Body is sent as JSON when not nil.
	Body any
	// Out receives a 2xx answer's JSON when not nil.
	Out any
	// Explain turns a final non-2xx status and the platform's message
	// into the error returned.
	Explain func(status int, message string) *StatusError
	// Prefix names the platform package ("gitlab") on transport and
	// decoding errors; a *StatusError already names its platform.
	Prefix string
	// Token is the credential sent in Header: every error returned has it
	// redacted.
	Token string
}

// Call sends r with c and returns the answer's headers. It returns
// Explain's *StatusError for a final non-2xx answer (after the retries of
// 429 and 5xx), and a transport or decoding error, prefixed with r.Prefix,
// otherwise. r.Token never appears in an error.
func Call(ctx context.Context, c *retryablehttp.Client, r Request) (http.Header, error) {
	h, err := call(ctx, c, r)
	if err != nil && r.Prefix != "" {
		var se *StatusError
		if !errors.As(err, &se) {
			err = fmt.Errorf("%s: %w", r.Prefix, err)
		}
	}
	return h, Redact(err, r.Token)
}

func call(ctx context.Context, c *retryablehttp.Client, r Request) (http.Header, error) {
	var body any
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, fmt.Errorf("comment: %w", err)
		}
		body = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("%s %s: %w", r.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", r.Method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := r.Explain(resp.StatusCode, apiMessage(data))
		e.Method, e.Path, e.Status = r.Method, req.URL.EscapedPath(), resp.StatusCode
		return resp.Header, e
	}
	if r.Out != nil {
		if err := json.Unmarshal(data, r.Out); err != nil {
			return nil, fmt.Errorf("%s %s: the answer is not the expected JSON: %w", r.Method, req.URL.Path, err)
		}
	}
	return resp.Header, nil
}

// apiMessage extracts the platforms' {"message": ...} (GitLab's may be an
// object), shortened.
func apiMessage(data []byte) string {
	var m struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
	}
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m.Message, &s) != nil {
		s = string(m.Message)
	}
	if s == "" {
		s = m.Error
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
