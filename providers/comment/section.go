package comment

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// SectionOptions control PublishSection.
type SectionOptions struct {
	// Marker is the hidden first line of the sectioned comment
	// ("<!-- etcdform:plans -->"), Title the line after it.
	Marker string
	Title  string
	// Limit is the platform's largest comment, in bytes.
	Limit int
	// TooLarge is the section's body when body would not fit in the
	// comment beside the other sections (a pointer to the full plan).
	TooLarge string
	// Attempts bounds the read-merge-write rounds (default 6), and Wait
	// waits before round n+1 (default: a random 0.2–1 s, times n).
	Attempts int
	Wait     func(n int)
	// Settle is how long a job waits after its section read back as
	// written before it reads once more (default 2 s): a job that read
	// before this one's write and writes after its read-back would
	// otherwise put the old section back unseen. A round writes only
	// within Settle/2 of its read (the list's end; the write's own
	// retries are bounded by what is left of that), so a write that can
	// undo another job's lands within that job's Settle, given that the
	// jobs use the same Settle and a write is not in flight for longer
	// than what is left. Sleep and Now default to the time package's.
	Settle time.Duration
	Sleep  func(time.Duration)
	Now    func() time.Time
}

var (
	sectionStartRE = regexp.MustCompile(`^<!-- etcdform:section ([A-Za-z0-9][A-Za-z0-9._-]*) -->$`)
	sectionEndRE   = regexp.MustCompile(`^<!-- etcdform:section-end ([A-Za-z0-9][A-Za-z0-9._-]*) -->$`)
)

// PublishSection makes the thread's sectioned comment hold body as the
// section name, keeping every other section as it is; sections are in
// name order. Jobs of one pipeline run it at once (one per cluster), and
// the platforms have no conditional update, so it reads, merges, writes
// and reads back: when its section is not there as written (another job
// wrote in between) or a second sectioned comment appeared (two jobs
// created one at once), it merges again, up to Attempts rounds. A job
// that read before this one's write can still write after its read-back,
// so a section that reads back as written is read once more after
// Settle. Surplus sectioned comments are merged into the oldest and
// deleted.
func PublishSection(ctx context.Context, s Store, name, body string, o SectionOptions) (Result, error) {
	if !sectionStartRE.MatchString(sectionStart(name)) {
		return Result{}, fmt.Errorf("comment: %q cannot name a section", name)
	}
	if o.Attempts == 0 {
		o.Attempts = 6
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = func(d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}
	if o.Wait == nil {
		o.Wait = func(n int) { o.Sleep(time.Duration(n) * (200*time.Millisecond + rand.N(800*time.Millisecond))) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	body = quoteMarkers(strings.TrimRight(strings.ReplaceAll(body, "\r\n", "\n"), "\n"))
	var res Result
	for n := 1; ; n++ {
		written, ok, stale, err := publishSectionOnce(ctx, s, name, body, o, &res)
		if err == nil && ok {
			o.Sleep(o.Settle)
			ok, err = holds(ctx, s, o.Marker, name, written)
		}
		if err != nil || ok {
			return res, err
		}
		if n >= o.Attempts {
			if stale {
				return res, fmt.Errorf("comment: writing section %s took over %s after reading the comments, %d times in a row (a slow or rate-limited API); run the job again", name, o.Settle/2, n)
			}
			return res, fmt.Errorf("comment: section %s was overwritten by other jobs %d times in a row; run the job again", name, n)
		}
		o.Wait(n)
	}
}

// publishSectionOnce is one read-merge-write-verify round; ok says the
// section reads back as written, written is what it wrote, stale that it
// did not write (or gave up on its write) for lack of time since its read.
func publishSectionOnce(ctx context.Context, s Store, name, body string, o SectionOptions, res *Result) (written string, ok, stale bool, err error) {
	mine, err := sectioned(ctx, s, o.Marker)
	if err != nil {
		return "", false, false, err
	}
	read := o.Now()
	sections := map[string]string{}
	for i := len(mine) - 1; i >= 0; i-- { // the oldest comment wins
		for k, v := range parseSections(mine[i].Body) {
			sections[k] = v
		}
	}
	sections[name] = body
	text := renderSections(o.Marker, o.Title, sections)
	if o.Limit > 0 && len(text) > o.Limit {
		sections[name] = quoteMarkers(o.TooLarge)
		text = renderSections(o.Marker, o.Title, sections)
	}
	res.Parts = 1
	left := o.Settle/2 - o.Now().Sub(read)
	if left <= 0 {
		return "", false, true, nil // too stale to write: another job's Settle may be over
	}
	wctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	switch {
	case len(mine) == 0:
		if err = s.Create(wctx, text); err == nil {
			res.Created++
		}
	case strings.TrimSpace(mine[0].Body) == strings.TrimSpace(text):
		res.Unchanged++
	default:
		if err = s.Update(wctx, mine[0].ID, text); err == nil {
			res.Updated++
		}
	}
	if err != nil {
		// Cut off at Settle/2 (not by ctx): the round is tried again.
		stale = ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded)
		if stale {
			err = nil
		}
		return "", false, stale, err
	}
	for _, c := range mine[min(1, len(mine)):] {
		if err := s.Delete(ctx, c.ID); err != nil {
			return "", false, false, err
		}
		res.Deleted++
	}
	ok, err = holds(ctx, s, o.Marker, name, sections[name])
	return sections[name], ok, false, err
}

// holds says the thread has one sectioned comment and its section name
// reads as want.
func holds(ctx context.Context, s Store, marker, name, want string) (bool, error) {
	after, err := sectioned(ctx, s, marker)
	if err != nil || len(after) != 1 {
		return false, err
	}
	got, present := parseSections(after[0].Body)[name]
	return present && got == want, nil
}

// sectioned lists the thread's sectioned comments, oldest first.
func sectioned(ctx context.Context, s Store, marker string) ([]Comment, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Comment
	for _, c := range all {
		first, _, _ := strings.Cut(strings.ReplaceAll(c.Body, "\r\n", "\n"), "\n")
		if strings.TrimSpace(first) == marker {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Comment) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

func sectionStart(name string) string { return "<!-- etcdform:section " + name + " -->" }
func sectionEnd(name string) string   { return "<!-- etcdform:section-end " + name + " -->" }

// parseSections reads the sections of a sectioned comment; a section
// without its end line is dropped (it is written again by its job).
func parseSections(body string) map[string]string {
	out := map[string]string{}
	var cur string
	var lines []string
	in := false
	for _, l := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		t := l // markers are whole lines: an indented one is content (quoteMarkers)
		if m := sectionStartRE.FindStringSubmatch(t); m != nil {
			cur, lines, in = m[1], nil, true
			continue
		}
		if m := sectionEndRE.FindStringSubmatch(t); m != nil && in && m[1] == cur {
			out[cur] = strings.Join(lines, "\n")
			in = false
			continue
		}
		if in {
			lines = append(lines, l)
		}
	}
	return out
}

func renderSections(marker, title string, sections map[string]string) string {
	var b strings.Builder
	b.WriteString(marker + "\n")
	if title != "" {
		b.WriteString(title + "\n")
	}
	for _, k := range slices.Sorted(maps.Keys(sections)) {
		fmt.Fprintf(&b, "\n%s\n%s\n%s\n", sectionStart(k), sections[k], sectionEnd(k))
	}
	return b.String()
}

// quoteMarkers indents any line of a section's body that would read as
// a section marker, so a plan's content can never end or forge a section.
func quoteMarkers(body string) string {
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "<!-- etcdform:") {
			lines[i] = " " + l
		}
	}
	return strings.Join(lines, "\n")
}
