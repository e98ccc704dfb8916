package plan

import (
	"strings"
	"testing"
)

// TestUpgradeRules checks the rules as data: every rule names its source,
// steps one minor, and UpgradePath applies them: patch changes are free,
// minors go one at a time (a jump lists the chain of applies), a minimum
// patch comes first, downgrades and major changes are refused.
func TestUpgradeRules(t *testing.T) {
	for _, r := range upgradeRules {
		f, _ := parseVersion(r.From + ".0")
		to, _ := parseVersion(r.To + ".0")
		if !strings.HasPrefix(r.Source, "https://etcd.io/docs/") || to.major != f.major || to.minor != f.minor+1 {
			t.Errorf("rule %+v: a rule steps one minor and names etcd's guide", r)
		}
		if min, ok := parseVersion(r.MinFrom); r.MinFrom != "" && (!ok || min.series() != r.From) {
			t.Errorf("rule %s -> %s: MinFrom %q is not a %s patch", r.From, r.To, r.MinFrom, r.From)
		}
	}
	cases := map[string]struct {
		from, to string
		rule     string // "From->To" of the rule returned, "" for none
		refusal  string // part of the refusal, "" for none
	}{
		"patch up":               {"3.6.11", "3.6.16", "", ""},
		"patch down":             {"3.6.16", "3.6.11", "", ""},
		"3.5 to 3.6":             {"3.5.35", "3.6.16", "3.5->3.6", ""},
		"3.5 at the minimum":     {"3.5.32", "3.6.16", "3.5->3.6", ""},
		"3.5 below the minimum":  {"3.5.20", "3.6.16", "", "3.5.20 -> 3.5 (at least 3.5.32, required before 3.6) -> 3.6.16"},
		"3.6 to 3.7":             {"3.6.16", "3.7.3", "3.6->3.7", ""},
		"3.6 below the minimum":  {"3.6.5", "3.7.3", "", "3.6.5 -> 3.6 (at least 3.6.11, required before 3.7) -> 3.7.3"},
		"two minors":             {"3.5.35", "3.7.3", "", "3.5.35 -> 3.6 (at least 3.6.11) -> 3.7.3"},
		"two minors from an old": {"3.5.1", "3.7.3", "", "3.5.1 -> 3.5 (at least 3.5.32, required before 3.6) -> 3.6 (at least 3.6.11) -> 3.7.3"},
		"downgrade":              {"3.6.16", "3.5.35", "", "a downgrade, which follows etcd's downgrade rules"},
		"major":                  {"3.6.16", "4.0.0", "", "major version"},
		"unknown minor":          {"3.3.1", "3.4.0", "", "knows no upgrade from 3.3"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, refusal := UpgradePath(tc.from, tc.to)
			got := ""
			if r != nil {
				got = r.From + "->" + r.To
			}
			if got != tc.rule || (tc.refusal == "") != (refusal == "") || !strings.Contains(refusal, tc.refusal) {
				t.Errorf("UpgradePath(%s, %s) = %q, %q; want %q, %q", tc.from, tc.to, got, refusal, tc.rule, tc.refusal)
			}
		})
	}
}

// TestDowngradeRules checks the downgrade rules as data (each steps one
// minor down and names etcd's downgrade guide) and DowngradePath: a patch
// is a plain swap, one minor down from 3.6 or later has its rule, two
// minors list the chain, below 3.5 and major changes are refused.
func TestDowngradeRules(t *testing.T) {
	for _, r := range downgradeRules {
		f, _ := parseVersion(r.From + ".0")
		to, _ := parseVersion(r.To + ".0")
		if !strings.HasPrefix(r.Source, "https://etcd.io/docs/") || !strings.Contains(r.Source, "/downgrades/") || to.major != f.major || to.minor != f.minor-1 || to.minor < 5 {
			t.Errorf("rule %+v: a rule steps one minor down to 3.5 or later and names etcd's downgrade guide", r)
		}
	}
	cases := map[string]struct {
		from, to string
		rule     string
		refusal  string
	}{
		"patch down":      {"3.6.16", "3.6.11", "", ""},
		"3.6 to 3.5":      {"3.6.16", "3.5.35", "3.6->3.5", ""},
		"3.7 to 3.6":      {"3.7.3", "3.6.16", "3.7->3.6", ""},
		"two minors":      {"3.7.3", "3.5.35", "", "3.7.3 -> 3.6 -> 3.5.35"},
		"3.5 to 3.4":      {"3.5.35", "3.4.37", "", "needs the cluster at 3.6 or later"},
		"major":           {"4.0.0", "3.6.16", "", "major version"},
		"not a downgrade": {"3.5.35", "3.6.16", "", "not a downgrade"},
		"not a version":   {"3.6", "3.5.35", "", "not release versions"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, refusal := DowngradePath(tc.from, tc.to)
			got := ""
			if r != nil {
				got = r.From + "->" + r.To
			}
			if got != tc.rule || (tc.refusal == "") != (refusal == "") || !strings.Contains(refusal, tc.refusal) {
				t.Errorf("DowngradePath(%s, %s) = %q, %q; want %q, %q", tc.from, tc.to, got, refusal, tc.rule, tc.refusal)
			}
		})
	}
}
