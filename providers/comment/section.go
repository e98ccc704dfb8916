package comment

import (
	"context"
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
// created one at once), it merges again, up to Attempts rounds. Surplus
// sectioned comments are merged into the oldest and deleted.
func PublishSection(ctx context.Context, s Store, name, body string, o SectionOptions) (Result, error) {
	if !sectionStartRE.MatchString(sectionStart(name)) {
		return Result{}, fmt.Errorf("comment: %q cannot name a section", name)
	}
	if o.Attempts == 0 {
		o.Attempts = 6
	}
	if o.Wait == nil {
		o.Wait = func(n int) { time.Sleep(time.Duration(n) * (200*time.Millisecond + rand.N(800*time.Millisecond))) }
	}
	body = quoteMarkers(strings.TrimRight(strings.ReplaceAll(body, "\r\n", "\n"), "\n"))
	var res Result
	for n := 1; ; n++ {
		ok, err := publishSectionOnce(ctx, s, name, body, o, &res)
		if err != nil || ok {
			return res, err
		}
		if n >= o.Attempts {
			return res, fmt.Errorf("comment: section %s was overwritten by other jobs %d times in a row; run the job again", name, n)
		}
		o.Wait(n)
	}
}

// publishSectionOnce is one read-merge-write-verify round; ok says the
// section reads back as written.
func publishSectionOnce(ctx context.Context, s Store, name, body string, o SectionOptions, res *Result) (ok bool, err error) {
	mine, err := sectioned(ctx, s, o.Marker)
	if err != nil {
		return false, err
	}
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
	switch {
	case len(mine) == 0:
		if err := s.Create(ctx, text); err != nil {
			return false, err
		}
		res.Created++
	case strings.TrimSpace(mine[0].Body) == strings.TrimSpace(text):
		res.Unchanged++
	default:
		if err := s.Update(ctx, mine[0].ID, text); err != nil {
			return false, err
		}
		res.Updated++
	}
	for _, c := range mine[min(1, len(mine)):] {
		if err := s.Delete(ctx, c.ID); err != nil {
			return false, err
		}
		res.Deleted++
	}
	after, err := sectioned(ctx, s, o.Marker)
	if err != nil {
		return false, err
	}
	if len(after) != 1 {
		return false, nil
	}
	got, present := parseSections(after[0].Body)[name]
	return present && got == sections[name], nil
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
