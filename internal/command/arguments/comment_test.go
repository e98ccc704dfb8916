package arguments

import (
	"slices"
	"strings"
	"testing"
)

// TestParseCommentSections: --plan and --policy belong to the --section
// before them; with one section, wherever they stand; without one, they
// are the single plan's.
func TestParseCommentSections(t *testing.T) {
	ok := map[string]struct {
		args     []string
		plan     string
		sections []CommentSection
	}{
		"default plan":  {nil, "etcdform.plan", nil},
		"single plan":   {[]string{"--plan", "x.plan", "--policy", "p.json"}, "x.plan", nil},
		"one section":   {[]string{"--section", "a", "--plan", "a.plan"}, "", []CommentSection{{"a", "a.plan", ""}}},
		"plan first":    {[]string{"--plan", "a.plan", "--policy", "a.json", "--section", "a"}, "", []CommentSection{{"a", "a.plan", "a.json"}}},
		"section alone": {[]string{"--section", "a"}, "", []CommentSection{{"a", "etcdform.plan", ""}}},
		"two sections": {[]string{"--section", "a", "--plan", "a.plan", "--policy", "a.json", "--section", "b", "--plan", "b.plan"}, "",
			[]CommentSection{{"a", "a.plan", "a.json"}, {"b", "b.plan", ""}}},
	}
	for name, tc := range ok {
		c, _, err := ParseComment(tc.args)
		if err != nil || c.Plan != tc.plan || !slices.Equal(c.Sections, tc.sections) {
			t.Errorf("%s: %+v, %v; want plan %q, sections %+v", name, c, err, tc.plan, tc.sections)
		}
	}
	bad := map[string]struct {
		args []string
		want string
	}{
		"plan before sections":   {[]string{"--plan", "a.plan", "--section", "a", "--section", "b", "--plan", "b.plan"}, "--plan a.plan comes before any --section"},
		"no plan":                {[]string{"--section", "a", "--plan", "a.plan", "--section", "b"}, "--section b has no --plan"},
		"twice":                  {[]string{"--section", "a", "--plan", "a.plan", "--plan", "b.plan"}, "--plan is given twice for section a"},
		"section twice":          {[]string{"--section", "a", "--plan", "a.plan", "--section", "a", "--plan", "b.plan"}, "--section a is given twice"},
		"section twice, no plan": {[]string{"--section", "a", "--section", "a", "--plan", "a.plan"}, "--section a is given twice"},
		"policy before sections": {[]string{"--policy", "a.json", "--section", "a", "--plan", "a.plan", "--section", "b", "--plan", "b.plan"}, "--policy a.json comes before any --section"},
		"single plan twice":      {[]string{"--plan", "a.plan", "--plan", "b.plan"}, "--plan is given twice (a.plan and b.plan)"},
	}
	for name, tc := range bad {
		if _, _, err := ParseComment(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}
