package comment

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const marker = "<!-- etcdform:plan -->"

// longPlan is a plan-like Markdown document: a table, <details> blocks with
// tables inside, and a code fence, long enough to need several parts.
func longPlan(clusters, steps int) string {
	var b strings.Builder
	b.WriteString(marker + "\n### etcdform plan\n\n**Plan: lots.**\n\n")
	b.WriteString("| Cluster | Steps |\n|---|---:|\n")
	for c := range clusters {
		fmt.Fprintf(&b, "| c%d | %d |\n", c, steps)
	}
	b.WriteString("\n")
	for c := range clusters {
		fmt.Fprintf(&b, "<details><summary>Cluster <b>c%d</b>: %d steps</summary>\n\n", c, steps)
		b.WriteString("| # | | Step | Changes |\n|---:|---|---|---|\n")
		for s := range steps {
			fmt.Fprintf(&b, "| %d | `~` | **write-config etcd-%d** | `quota` → `%d` |\n", s+1, s, s*1024)
		}
		b.WriteString("\n```yaml\n")
		for s := range steps {
			fmt.Fprintf(&b, "name: etcd-%d\nquota-backend-bytes: %d\n", s, s*1024)
		}
		b.WriteString("```\n\n</details>\n\n")
	}
	b.WriteString("<sub>Planned by test.</sub>\n")
	return b.String()
}

// stripPart removes what Parts adds to a part: the two header lines, the
// "continued" lines, and the footer.
func stripPart(p string) string {
	lines := strings.Split(p, "\n")
	var out []string
	for _, l := range lines[2:] {
		if strings.HasPrefix(l, "_etcdform plan, part ") || strings.HasPrefix(l, "_Continued in the next comment") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func checkParts(t *testing.T, in string, parts []string, limit int) {
	t.Helper()
	for i, p := range parts {
		if len(p) > limit {
			t.Errorf("part %d has %d bytes, limit %d", i+1, len(p), limit)
		}
		want := fmt.Sprintf("%s\n<!-- etcdform:part %d/%d -->\n", marker, i+1, len(parts))
		if !strings.HasPrefix(p, want) {
			t.Errorf("part %d does not start with the marker and its part line:\n%.120s", i+1, p)
		}
		if n, ok := partOf(p, marker); !ok || n != i+1 {
			t.Errorf("partOf(part %d) = %d, %v", i+1, n, ok)
		}
		// Balanced: as many opening as closing tags and fences, and
		// every table row after a header.
		if o, c := strings.Count(p, "<details>"), strings.Count(p, "</details>"); o != c {
			t.Errorf("part %d: %d <details> and %d </details>", i+1, o, c)
		}
		fences := 0
		inTable := false
		for _, l := range strings.Split(p, "\n") {
			if strings.HasPrefix(l, "```") {
				fences++
			}
			if fences%2 == 1 {
				continue
			}
			switch {
			case strings.HasPrefix(l, "|---") || strings.HasPrefix(l, "|:--"):
				inTable = true
			case strings.HasPrefix(l, "| # |") || strings.HasPrefix(l, "| Cluster |"):
			case strings.HasPrefix(l, "|"):
				if !inTable {
					t.Errorf("part %d: table row without a header: %q", i+1, l)
				}
			default:
				inTable = false
			}
		}
		if fences%2 != 0 {
			t.Errorf("part %d: unbalanced code fence (%d fence lines)", i+1, fences)
		}
	}
	// Every line of the input appears, in order, in the parts.
	var all []string
	for _, p := range parts {
		all = append(all, strings.Split(stripPart(p), "\n")...)
	}
	j := 0
	for _, l := range strings.Split(strings.TrimPrefix(in, marker+"\n"), "\n") {
		for j < len(all) && all[j] != l {
			j++
		}
		if j == len(all) {
			t.Fatalf("line %q is missing or out of order in the parts", l)
		}
		j++
	}
}

func TestPartsShortPlanIsOnePart(t *testing.T) {
	in := longPlan(1, 2)
	parts, err := Parts(in, marker, GitHubLimit)
	if err != nil {
		t.Fatal(err)
	}
	want := marker + "\n<!-- etcdform:part 1/1 -->\n" + strings.TrimPrefix(in, marker+"\n")
	if diff := cmp.Diff([]string{want}, parts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPartsSplitsLongPlans(t *testing.T) {
	in := longPlan(4, 40)
	for _, limit := range []int{400, 700, 1000, 2500, 10000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			parts, err := Parts(in, marker, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) < 2 {
				t.Fatalf("%d bytes split into %d parts at limit %d", len(in), len(parts), limit)
			}
			checkParts(t, in, parts, limit)
		})
	}
}

func TestPartsCutsAnOverlongLine(t *testing.T) {
	long := strings.Repeat("é→x", 1000) // multi-byte: cuts must fall on rune boundaries
	in := marker + "\nbefore\n<details><summary>s</summary>\n\n" + long + "\n\n</details>\nafter\n"
	parts, err := Parts(in, marker, 600)
	if err != nil {
		t.Fatal(err)
	}
	var joined strings.Builder
	for i, p := range parts {
		if len(p) > 600 {
			t.Errorf("part %d: %d bytes", i+1, len(p))
		}
		if !strings.Contains(p, "<details>") || strings.Count(p, "<details>") != strings.Count(p, "</details>") {
			t.Errorf("part %d: details not kept open/closed:\n%s", i+1, p)
		}
		for _, l := range strings.Split(stripPart(p), "\n") {
			if strings.ContainsAny(l, "é→") {
				joined.WriteString(l)
			}
		}
	}
	if joined.String() != long {
		t.Errorf("the long line did not survive the cuts intact (got %d bytes, want %d)", joined.Len(), len(long))
	}
}

func TestPartsRefusesATinyLimit(t *testing.T) {
	if _, err := Parts(longPlan(1, 3), marker, 100); !errors.Is(err, ErrTooSmall) {
		t.Fatalf("err = %v, want ErrTooSmall", err)
	}
	if _, err := Parts("x", "not a comment", 1000); err == nil {
		t.Fatal("a marker that is not an HTML comment was accepted")
	}
}

// memStore is a Store in memory, for Publish's logic.
type memStore struct {
	comments []Comment
	next     int64
	calls    []string
}

func (m *memStore) List(context.Context) ([]Comment, error) {
	m.calls = append(m.calls, "list")
	return append([]Comment(nil), m.comments...), nil
}

func (m *memStore) Create(_ context.Context, body string) error {
	m.next++
	m.calls = append(m.calls, fmt.Sprintf("create %d", m.next))
	m.comments = append(m.comments, Comment{ID: m.next, Body: body})
	return nil
}

func (m *memStore) Update(_ context.Context, id int64, body string) error {
	m.calls = append(m.calls, fmt.Sprintf("update %d", id))
	for i := range m.comments {
		if m.comments[i].ID == id {
			m.comments[i].Body = body
			return nil
		}
	}
	return errors.New("no such comment")
}

func (m *memStore) Delete(_ context.Context, id int64) error {
	m.calls = append(m.calls, fmt.Sprintf("delete %d", id))
	for i := range m.comments {
		if m.comments[i].ID == id {
			m.comments = append(m.comments[:i], m.comments[i+1:]...)
			return nil
		}
	}
	return errors.New("no such comment")
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	m := &memStore{}
	m.Create(ctx, "LGTM")
	m.Create(ctx, "quoting:\n"+marker) // not a plan comment: the marker is not first
	o := Options{Marker: marker, Limit: 1000}
	step := func(markdown string, want Result, wantCalls ...string) {
		t.Helper()
		m.calls = nil
		got, err := Publish(ctx, m, markdown, o)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantCalls, m.calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	}
	short, long := longPlan(1, 1), longPlan(2, 10)
	nLong, _ := Parts(long, marker, 1000)
	step(short, Result{Parts: 1, Created: 1}, "list", "create 3")
	step(short, Result{Parts: 1, Unchanged: 1}, "list")
	step(short+"more\n", Result{Parts: 1, Updated: 1}, "list", "update 3")
	var creates []string
	for i := range len(nLong) - 1 {
		creates = append(creates, fmt.Sprintf("create %d", 4+i))
	}
	step(long, Result{Parts: len(nLong), Updated: 1, Created: len(nLong) - 1}, append([]string{"list", "update 3"}, creates...)...)
	var deletes []string
	for i := range len(nLong) - 1 {
		deletes = append(deletes, fmt.Sprintf("delete %d", 4+i))
	}
	step(short, Result{Parts: 1, Updated: 1, Deleted: len(nLong) - 1}, append([]string{"list", "update 3"}, deletes...)...)
	// A duplicate (two concurrent first runs) is removed; the oldest stays.
	m.comments = append(m.comments, Comment{ID: 99, Body: m.comments[2].Body})
	step(short, Result{Parts: 1, Unchanged: 1, Deleted: 1}, "list", "delete 99")
	if len(m.comments) != 3 || m.comments[0].Body != "LGTM" {
		t.Errorf("the thread is now %+v", m.comments)
	}
}

func TestBackoff(t *testing.T) {
	resp := func(status int, ra string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}}
		if ra != "" {
			r.Header.Set("Retry-After", ra)
		}
		return r
	}
	now := time.Now()
	for name, tc := range map[string]struct {
		resp    *http.Response
		attempt int
		want    time.Duration
	}{
		"429 seconds":     {resp(429, "3"), 0, 3 * time.Second},
		"503 seconds":     {resp(503, "2"), 5, 2 * time.Second},
		"429 capped":      {resp(429, "86400"), 0, 10 * time.Second},
		"429 date":        {resp(429, now.Add(4*time.Second).UTC().Format(http.TimeFormat)), 0, 4 * time.Second},
		"429 garbage":     {resp(429, "soon"), 0, 100 * time.Millisecond},
		"502 exponential": {resp(502, ""), 3, 800 * time.Millisecond},
		"502 capped":      {resp(502, "5"), 10, 10 * time.Second},
		"transport error": {nil, 1, 200 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			got := Backoff(100*time.Millisecond, 10*time.Second, tc.attempt, tc.resp)
			// An HTTP date has one-second resolution.
			if got > tc.want || got < tc.want-time.Second || (!strings.Contains(name, "date") && got != tc.want) {
				t.Errorf("Backoff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckRetry(t *testing.T) {
	ctx := context.Background()
	for status, want := range map[int]bool{200: false, 400: false, 401: false, 403: false, 404: false, 409: false, 422: false, 429: true, 500: true, 501: false, 502: true, 503: true, 504: true} {
		got, err := CheckRetry(ctx, &http.Response{StatusCode: status}, nil)
		if err != nil || got != want {
			t.Errorf("CheckRetry(%d) = %v, %v; want %v", status, got, err, want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := CheckRetry(cctx, &http.Response{StatusCode: 502}, nil); got || err == nil {
		t.Errorf("CheckRetry after cancel = %v, %v", got, err)
	}
}

// FuzzParts: any Markdown at any limit is split into parts within the
// limit that each start with the marker and their part line, or refused
// with ErrTooSmall; never a panic or a hang.
func FuzzParts(f *testing.F) {
	f.Add(longPlan(2, 5), 300)
	f.Add("```\n<details>\n| a |\n|---|\n| b |\n~~~~\n</details>\n", 150)
	f.Add(marker+"\n"+strings.Repeat("→", 500), 200)
	f.Fuzz(func(t *testing.T, md string, limit int) {
		if limit < 0 {
			limit = -limit
		}
		limit = 150 + limit%4000
		parts, err := Parts(md, marker, limit)
		if errors.Is(err, ErrTooSmall) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range parts {
			if len(p) > limit {
				t.Fatalf("part %d: %d bytes, limit %d", i+1, len(p), limit)
			}
			if n, ok := partOf(p, marker); !ok || n != i+1 {
				t.Fatalf("part %d is read back as %d, %v", i+1, n, ok)
			}
		}
	})
}

// TestPartsRandomDocuments splits many random documents made of the
// constructs the splitter tracks (a deterministic complement to FuzzParts).
func TestPartsRandomDocuments(t *testing.T) {
	pieces := []string{"```", "~~~~", "<details>", "</details>", "<details><summary>x</summary>", "| a | b |", "|---|---|",
		"\n", "\n", "\n", "word ", "→", "  ", strings.Repeat("long", 60)}
	r := rand.New(rand.NewSource(9))
	for i := range 5000 {
		var b strings.Builder
		for range r.Intn(300) {
			b.WriteString(pieces[r.Intn(len(pieces))])
		}
		limit := 150 + r.Intn(2000)
		start := time.Now()
		parts, err := Parts(b.String(), marker, limit)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("document %d: %v to split", i, d)
		}
		if errors.Is(err, ErrTooSmall) {
			continue
		}
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		for j, p := range parts {
			if len(p) > limit {
				t.Fatalf("document %d part %d: %d bytes, limit %d", i, j+1, len(p), limit)
			}
			if n, ok := partOf(p, marker); !ok || n != j+1 {
				t.Fatalf("document %d part %d read back as %d, %v", i, j+1, n, ok)
			}
		}
	}
}
