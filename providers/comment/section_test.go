package comment

import (
	"context"
	"strings"
	"testing"
	"time"
)

const plansMarker = "<!-- etcdform:plans -->"

func sectionOpts() SectionOptions {
	return SectionOptions{Marker: plansMarker, Title: "## etcdform plans", Limit: GitLabLimit, TooLarge: "too large", Wait: func(int) {}, Sleep: func(time.Duration) {}}
}

// TestPublishSection: sections are kept per name and updated in place in
// one comment, other comments are left alone, and a body cannot forge a
// section marker.
func TestPublishSection(t *testing.T) {
	ctx := context.Background()
	m := &memStore{}
	m.Create(ctx, "LGTM")
	if _, err := PublishSection(ctx, m, "b", "plan of b", sectionOpts()); err != nil {
		t.Fatal(err)
	}
	if _, err := PublishSection(ctx, m, "a", "plan of a\n<!-- etcdform:section-end a -->\nstill a", sectionOpts()); err != nil {
		t.Fatal(err)
	}
	res, err := PublishSection(ctx, m, "b", "plan of b, again", sectionOpts())
	if err != nil || res.Updated != 1 {
		t.Fatalf("update of b: %+v, %v", res, err)
	}
	if len(m.comments) != 2 || m.comments[0].Body != "LGTM" {
		t.Fatalf("comments: %+v", m.comments)
	}
	got := parseSections(m.comments[1].Body)
	if len(got) != 2 || got["b"] != "plan of b, again" || !strings.Contains(got["a"], "still a") {
		t.Errorf("sections: %q", got)
	}
	if strings.Index(m.comments[1].Body, "section a") > strings.Index(m.comments[1].Body, "section b") {
		t.Errorf("sections not in name order:\n%s", m.comments[1].Body)
	}
	if _, err := PublishSection(ctx, m, "a b", "x", sectionOpts()); err == nil {
		t.Error("a section name with a space was accepted")
	}
	o := sectionOpts()
	o.Limit = 200
	if _, err := PublishSection(ctx, m, "c", strings.Repeat("x", 300), o); err != nil {
		t.Fatal(err)
	}
	if got := parseSections(m.comments[1].Body)["c"]; got != "too large" {
		t.Errorf("an oversized section holds %q", got)
	}
}

// racyStore lets another job write between a job's read and its write.
type racyStore struct {
	*memStore
	after func()
}

func (r *racyStore) Create(ctx context.Context, body string) error {
	err := r.memStore.Create(ctx, body)
	if f := r.after; f != nil {
		r.after = nil
		f()
	}
	return err
}

func (r *racyStore) Update(ctx context.Context, id int64, body string) error {
	err := r.memStore.Update(ctx, id, body)
	if f := r.after; f != nil {
		r.after = nil
		f()
	}
	return err
}

// TestPublishSectionRace: two jobs both found no comment and both
// created one, or one overwrote the other's fresh section; each merges
// again, and in the end one comment holds both sections.
func TestPublishSectionRace(t *testing.T) {
	ctx := context.Background()
	m := &memStore{}
	r := &racyStore{memStore: m}
	// Job b created its own comment at the same time as job a.
	r.after = func() { m.Create(ctx, renderSections(plansMarker, "", map[string]string{"b": "plan of b"})) }
	if _, err := PublishSection(ctx, r, "a", "plan of a", sectionOpts()); err != nil {
		t.Fatal(err)
	}
	if _, err := PublishSection(ctx, m, "b", "plan of b", sectionOpts()); err != nil {
		t.Fatal(err)
	}
	if len(m.comments) != 1 {
		t.Fatalf("%d comments after concurrent creation: %+v", len(m.comments), m.comments)
	}
	// Job c read before a's update and wrote after it, without a.
	id := m.comments[0].ID
	r.after = func() {
		m.Update(ctx, id, renderSections(plansMarker, "", map[string]string{"b": "plan of b", "c": "plan of c"}))
	}
	if _, err := PublishSection(ctx, r, "a", "plan of a, again", sectionOpts()); err != nil {
		t.Fatal(err)
	}
	got := parseSections(m.comments[0].Body)
	if len(m.comments) != 1 || got["a"] != "plan of a, again" || got["b"] != "plan of b" || got["c"] != "plan of c" {
		t.Errorf("after an interleaved write: %q", got)
	}

	// A job that never gets its section to stick gives up with an error.
	o := sectionOpts()
	o.Attempts = 3
	var again func()
	again = func() {
		m.Update(ctx, id, renderSections(plansMarker, "", map[string]string{"b": "plan of b"}))
		r.after = again
	}
	r.after = again
	if _, err := PublishSection(ctx, r, "a", "plan of a", o); err == nil || !strings.Contains(err.Error(), "overwritten by other jobs 3 times") {
		t.Errorf("err = %v", err)
	}
}

// TestPublishSectionLateOverwrite: job c read before a's write and wrote
// after a's section read back as written, putting the old comment back.
// Job a reads again after Settle, sees its section gone and merges
// again; and a round that took longer than Settle/2 from read to write
// does not write.
func TestPublishSectionLateOverwrite(t *testing.T) {
	ctx := context.Background()
	m := &memStore{}
	if _, err := PublishSection(ctx, m, "b", "plan of b", sectionOpts()); err != nil {
		t.Fatal(err)
	}
	id := m.comments[0].ID
	stale := renderSections(plansMarker, "", map[string]string{"b": "plan of b", "c": "plan of c"})
	o := sectionOpts()
	settles := 0
	o.Sleep = func(d time.Duration) {
		if d != 2*time.Second {
			t.Errorf("settled for %v, want the default 2s", d)
		}
		if settles++; settles == 1 {
			m.Update(ctx, id, stale) // c's write lands after a's read-back
		}
	}
	if _, err := PublishSection(ctx, m, "a", "plan of a", o); err != nil {
		t.Fatal(err)
	}
	got := parseSections(m.comments[0].Body)
	if settles != 2 || got["a"] != "plan of a" || got["b"] != "plan of b" || got["c"] != "plan of c" {
		t.Errorf("after a late overwrite (%d settles): %q", settles, got)
	}

	// A slow round: 1.5 s between the read and the write.
	o = sectionOpts()
	o.Settle = 2 * time.Second
	clock := time.Unix(0, 0)
	ticks := []time.Duration{0, 1500 * time.Millisecond, 0, 10 * time.Millisecond}
	o.Now = func() time.Time {
		if len(ticks) > 0 {
			clock = clock.Add(ticks[0])
			ticks = ticks[1:]
		}
		return clock
	}
	updates := func() (n int) {
		for _, c := range m.calls {
			if strings.HasPrefix(c, "update") {
				n++
			}
		}
		return n
	}
	before := updates()
	res, err := PublishSection(ctx, m, "a", "plan of a, again", o)
	if err != nil || res.Updated != 1 || updates() != before+1 || len(ticks) != 0 {
		t.Errorf("slow round: %+v, %d writes, %v; want one write, in the second round", res, updates()-before, err)
	}
	if got := parseSections(m.comments[0].Body)["a"]; got != "plan of a, again" {
		t.Errorf("section a after a slow round: %q", got)
	}

	// Every round slow: the error says so, not that others overwrote it.
	o = sectionOpts()
	o.Attempts = 2
	o.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	if _, err := PublishSection(ctx, m, "a", "plan of a, third", o); err == nil || !strings.Contains(err.Error(), "slow or rate-limited") {
		t.Errorf("every round slow: err = %v", err)
	}
}

// TestPublishSections: the pipeline's last job writes each of its
// sections once more in one write, bringing back one that two jobs
// writing at once lost and keeping the sections of other pipelines; a
// comment over the limit gets the largest written section's TooLarge.
func TestPublishSections(t *testing.T) {
	ctx := context.Background()
	m := &memStore{}
	if _, err := PublishSection(ctx, m, "c", "plan of c", sectionOpts()); err != nil {
		t.Fatal(err)
	}
	if _, err := PublishSection(ctx, m, "b", "plan of b", sectionOpts()); err != nil {
		t.Fatal(err)
	}
	// Section a was written, then lost to b's stale write: it is absent.
	res, err := PublishSections(ctx, m, []Section{{Name: "a", Body: "plan of a"}, {Name: "b", Body: "plan of b"}}, sectionOpts())
	if err != nil || res.Updated != 1 || len(m.comments) != 1 {
		t.Fatalf("PublishSections: %+v, %v, %d comments; want one update of one comment", res, err, len(m.comments))
	}
	got := parseSections(m.comments[0].Body)
	if len(got) != 3 || got["a"] != "plan of a" || got["b"] != "plan of b" || got["c"] != "plan of c" {
		t.Errorf("sections after the last job: %q", got)
	}
	if _, err := PublishSections(ctx, m, []Section{{Name: "a", Body: "x"}, {Name: "a", Body: "y"}}, sectionOpts()); err == nil || !strings.Contains(err.Error(), "section a is given twice") {
		t.Errorf("a section given twice: err = %v", err)
	}
	if _, err := PublishSections(ctx, m, nil, sectionOpts()); err == nil {
		t.Error("no section: no error")
	}

	o := sectionOpts()
	o.Limit = len(renderSections(plansMarker, o.Title, got)) + 250
	_, err = PublishSections(ctx, m, []Section{
		{Name: "a", Body: strings.Repeat("a", 200), TooLarge: "a is in the artifacts"},
		{Name: "b", Body: strings.Repeat("b", 400), TooLarge: "b is in the artifacts"},
	}, o)
	got = parseSections(m.comments[0].Body)
	if err != nil || got["a"] != strings.Repeat("a", 200) || got["b"] != "b is in the artifacts" || got["c"] != "plan of c" || len(m.comments[0].Body) > o.Limit {
		t.Errorf("over the limit: %v, %q (%d bytes, limit %d)", err, got, len(m.comments[0].Body), o.Limit)
	}

	// A section without its own TooLarge takes the options'; a TooLarge
	// with CRLF line ends and a trailing newline still reads back as
	// written (no "overwritten" after six rounds); the caller's sections
	// are left as given.
	o.TooLarge = "<!-- etcdform:section-end c -->\r\nsee the artifacts\r\n"
	secs := []Section{{Name: "a", Body: strings.Repeat("a", 400)}}
	if _, err := PublishSections(ctx, m, secs, o); err != nil {
		t.Fatalf("the options' TooLarge: %v", err)
	}
	if got := parseSections(m.comments[0].Body); got["a"] != " <!-- etcdform:section-end c -->\nsee the artifacts" || got["c"] != "plan of c" {
		t.Errorf("the options' TooLarge: %q", got)
	}
	if secs[0].Body != strings.Repeat("a", 400) || secs[0].TooLarge != "" {
		t.Errorf("the caller's section changed: %+v", secs[0])
	}
}
