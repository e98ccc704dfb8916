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

// Section is one named part of the sectioned comment: a cluster's plan.
// TooLarge, when set, is its body when Body would not fit in the comment
// beside the other sections (SectionOptions.TooLarge otherwise).
type Section struct {
	Name, Body, TooLarge string
}

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
	return PublishSections(ctx, s, []Section{{Name: name, Body: body}}, o)
}

// PublishSections is PublishSection of several sections in one write: the
// pipeline's last job writes every section of the pipeline once more, so
// that one lost to two jobs writing at once (a write still in flight
// past the other's Settle) is back when the pipeline ends.
func PublishSections(ctx context.Context, s Store, secs []Section, o SectionOptions) (Result, error) {
	if len(secs) == 0 {
		return Result{}, errors.New("comment: no section to publish")
	}
	secs = slices.Clone(secs) // normalised below; the caller's stay as given
	seen := map[string]bool{}
	var names []string
	for i, sec := range secs {
		if !sectionStartRE.MatchString(sectionStart(sec.Name)) {
			return Result{}, fmt.Errorf("comment: %q cannot name a section", sec.Name)
		}
		if seen[sec.Name] {
			return Result{}, fmt.Errorf("comment: section %s is given twice", sec.Name)
		}
		seen[sec.Name] = true
		names = append(names, sec.Name)
		if secs[i].TooLarge == "" {
			secs[i].TooLarge = o.TooLarge
		}
		// As the section reads back from the comment, or it never
		// reads back as written.
		secs[i].Body, secs[i].TooLarge = sectionBody(sec.Body), sectionBody(secs[i].TooLarge)
	}
	what, were := "section "+names[0], "was"
	if len(names) > 1 {
		what, were = "sections "+strings.Join(names, ", "), "were"
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
	var res Result
	for n := 1; ; n++ {
		written, ok, stale, err := publishSectionsOnce(ctx, s, secs, o, &res)
		if err == nil && ok {
			o.Sleep(o.Settle)
			ok, err = holds(ctx, s, o.Marker, written)
		}
		if err != nil || ok {
			return res, err
		}
		if n >= o.Attempts {
			if stale {
				return res, fmt.Errorf("comment: writing %s took over %s after reading the comments, %d times in a row (a slow or rate-limited API); run the job again", what, o.Settle/2, n)
			}
			return res, fmt.Errorf("comment: %s %s overwritten by other jobs %d times in a row; run the job again", what, were, n)
		}
		o.Wait(n)
	}
}

// publishSectionsOnce is one read-merge-write-verify round; ok says the
// sections read back as written, written is what it wrote, stale that it
// did not write (or gave up on its write) for lack of time since its read.
func publishSectionsOnce(ctx context.Context, s Store, secs []Section, o SectionOptions, res *Result) (written map[string]string, ok, stale bool, err error) {
	mine, err := sectioned(ctx, s, o.Marker)
	if err != nil {
		return nil, false, false, err
	}
	read := o.Now()
	sections := map[string]string{}
	for i := len(mine) - 1; i >= 0; i-- { // the oldest comment wins
		for k, v := range parseSections(mine[i].Body) {
			sections[k] = v
		}
	}
	for _, sec := range secs {
		sections[sec.Name] = sec.Body
	}
	text := renderSections(o.Marker, o.Title, sections)
	if o.Limit > 0 && len(text) > o.Limit {
		// The largest of the sections written first, until it fits.
		bySize := slices.Clone(secs)
		slices.SortStableFunc(bySize, func(a, b Section) int { return len(b.Body) - len(a.Body) })
		for _, sec := range bySize {
			if len(text) <= o.Limit {
				break
			}
			sections[sec.Name] = sec.TooLarge
			text = renderSections(o.Marker, o.Title, sections)
		}
	}
	written = map[string]string{}
	for _, sec := range secs {
		written[sec.Name] = sections[sec.Name]
	}
	res.Parts = 1
	left := o.Settle/2 - o.Now().Sub(read)
	if left <= 0 {
		return nil, false, true, nil // too stale to write: another job's Settle may be over
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
		return nil, false, stale, err
	}
	for _, c := range mine[min(1, len(mine)):] {
		if err := s.Delete(ctx, c.ID); err != nil {
			return nil, false, false, err
		}
		res.Deleted++
	}
	ok, err = holds(ctx, s, o.Marker, written)
	return written, ok, false, err
}

// holds says the thread has one sectioned comment and each section of
// want reads as its value there.
func holds(ctx context.Context, s Store, marker string, want map[string]string) (bool, error) {
	after, err := sectioned(ctx, s, marker)
	if err != nil || len(after) != 1 {
		return false, err
	}
	got := parseSections(after[0].Body)
	for name, w := range want {
		if g, present := got[name]; !present || g != w {
			return false, nil
		}
	}
	return true, nil
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

// sectionBody is body as a section holds it: LF line ends, no trailing
// newline, marker lines quoted.
func sectionBody(body string) string {
	return quoteMarkers(strings.TrimRight(strings.ReplaceAll(body, "\r\n", "\n"), "\n"))
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
