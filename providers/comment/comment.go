package comment

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Comment is one comment (a GitLab note, a GitHub issue comment) as a Store
// lists it.
type Comment struct {
	ID   int64
	Body string
}

// Store is the comment thread of one merge or pull request. Errors name the
// platform, the status and, for 401/403/404, the missing permission or
// variable; they never contain the token.
type Store interface {
	// List returns every comment of the thread, in creation order,
	// paging through the platform's pages.
	List(ctx context.Context) ([]Comment, error)
	// Create posts a new comment.
	Create(ctx context.Context, body string) error
	// Update replaces the body of comment id.
	Update(ctx context.Context, id int64, body string) error
	// Delete removes comment id.
	Delete(ctx context.Context, id int64) error
}

// Options control Publish.
type Options struct {
	// Marker is the hidden first line of every plan comment, an HTML
	// comment such as views.PlanMarkerLine ("<!-- etcdform:plan -->").
	Marker string
	// Limit is the platform's largest comment, in bytes (GitLabLimit,
	// GitHubLimit). Bytes are never fewer than the characters the
	// platforms count, so a part within Limit is always accepted.
	Limit int
}

// The platforms' comment size limits (GitLab: 1,000,000 characters for a
// note; GitHub: 65,536 characters for an issue comment).
const (
	GitLabLimit = 1_000_000
	GitHubLimit = 65_536
)

// Result says what Publish did.
type Result struct {
	Parts                                int
	Created, Updated, Unchanged, Deleted int
}

func (r Result) String() string {
	var s []string
	for _, c := range []struct {
		n    int
		verb string
	}{{r.Created, "created"}, {r.Updated, "updated"}, {r.Unchanged, "unchanged"}, {r.Deleted, "deleted"}} {
		if c.n > 0 {
			s = append(s, fmt.Sprintf("%d %s", c.n, c.verb))
		}
	}
	what := "1 comment"
	if r.Parts != 1 {
		what = fmt.Sprintf("%d comments", r.Parts)
	}
	return fmt.Sprintf("%s (%s)", what, strings.Join(s, ", "))
}

// Publish makes the thread hold markdown as the plan comment: the comments
// starting with the marker are updated in place, part by part; missing
// parts are created and surplus parts (a plan that got shorter, or a
// duplicate from a concurrent run) are deleted. It never posts a second
// copy of a part that exists.
func Publish(ctx context.Context, s Store, markdown string, o Options) (Result, error) {
	parts, err := Parts(markdown, o.Marker, o.Limit)
	if err != nil {
		return Result{}, err
	}
	res := Result{Parts: len(parts)}
	existing, err := s.List(ctx)
	if err != nil {
		return res, err
	}
	mine := map[int][]Comment{}
	for _, c := range existing {
		if n, ok := partOf(c.Body, o.Marker); ok {
			mine[n] = append(mine[n], c)
		}
	}
	for n := range mine {
		sort.SliceStable(mine[n], func(i, j int) bool { return mine[n][i].ID < mine[n][j].ID })
	}
	for i, body := range parts {
		cs := mine[i+1]
		switch {
		case len(cs) == 0:
			if err := s.Create(ctx, body); err != nil {
				return res, err
			}
			res.Created++
		case strings.TrimSpace(cs[0].Body) == strings.TrimSpace(body):
			res.Unchanged++
		default:
			if err := s.Update(ctx, cs[0].ID, body); err != nil {
				return res, err
			}
			res.Updated++
		}
		if len(cs) > 0 {
			mine[i+1] = cs[1:]
		}
	}
	var surplus []Comment
	for n, cs := range mine {
		if n > len(parts) || len(cs) > 0 {
			surplus = append(surplus, cs...)
		}
	}
	sort.Slice(surplus, func(i, j int) bool { return surplus[i].ID < surplus[j].ID })
	for _, c := range surplus {
		if err := s.Delete(ctx, c.ID); err != nil {
			return res, err
		}
		res.Deleted++
	}
	return res, nil
}

var partLineRE = regexp.MustCompile(`^<!-- etcdform:part (\d+)/(\d+) -->$`)

// partLine is the second line of every part.
func partLine(i, n int) string { return fmt.Sprintf("<!-- etcdform:part %d/%d -->", i, n) }

// partOf says whether body is a plan comment and which part it is: the
// marker line first, then the part line (absent: part 1, as an older
// etcdform posted it).
func partOf(body, marker string) (int, bool) {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	first, rest, _ := strings.Cut(body, "\n")
	if strings.TrimSpace(first) != marker {
		return 0, false
	}
	second, _, _ := strings.Cut(rest, "\n")
	m := partLineRE.FindStringSubmatch(strings.TrimSpace(second))
	if m == nil {
		return 1, true
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// ErrTooSmall is returned by Parts when the limit cannot hold even a part's
// header and one line of a nested block.
var ErrTooSmall = errors.New("comment: the comment size limit is too small to split the plan")

// minBudget is the least room a part must have for content.
const minBudget = 64

// Parts splits markdown (whose first line may be the marker) into comment
// bodies of at most limit bytes. Every part starts with the marker line and
// a hidden part line ("<!-- etcdform:part 2/3 -->"); parts after the first
// say they continue the plan. Splits fall between lines; a code fence,
// <details> block or table open at a split is closed at the end of the part
// and reopened (with its summary or header) at the start of the next. Only a
// single line longer than a whole part is cut inside the line.
func Parts(markdown, marker string, limit int) ([]string, error) {
	if !strings.HasPrefix(marker, "<!--") || !strings.HasSuffix(marker, "-->") || strings.Contains(marker, "\n") {
		return nil, fmt.Errorf("comment: the marker %q is not a one-line HTML comment", marker)
	}
	text := strings.ReplaceAll(markdown, "\r\n", "\n")
	if first, rest, ok := strings.Cut(text, "\n"); ok && strings.TrimSpace(first) == marker {
		text = rest
	} else if strings.TrimSpace(text) == marker {
		text = ""
	}
	// The largest header and footer any part can have.
	const big = 99999
	budget := limit - len(header(marker, big, big)) - len(footer(big, big))
	if budget < minBudget {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooSmall, limit)
	}
	chunks, err := split(text, budget)
	if err != nil {
		return nil, err
	}
	n := len(chunks)
	out := make([]string, n)
	for i, c := range chunks {
		out[i] = header(marker, i+1, n) + c
		if i+1 < n {
			out[i] += footer(i+2, n)
		}
	}
	return out, nil
}

func header(marker string, i, n int) string {
	h := marker + "\n" + partLine(i, n) + "\n"
	if i > 1 {
		h += fmt.Sprintf("_etcdform plan, part %d of %d (continued)_\n\n", i, n)
	}
	return h
}

func footer(next, n int) string {
	return fmt.Sprintf("\n_Continued in the next comment (part %d of %d)._\n", next, n)
}
