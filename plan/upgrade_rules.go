package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// UpgradeRule is what etcd's upgrade guide requires to move a cluster from
// one minor version to the next. A change of patch version within a minor
// needs no rule (etcd supports mixed patch versions and rolling restarts
// between them); every other change goes one minor at a time, through the
// rule of each step.
type UpgradeRule struct {
	From, To string // minor versions: "3.5", "3.6"
	// MinFrom is the oldest patch of From a cluster may upgrade from; ""
	// for any.
	MinFrom string
	// CheckV2Store: the v2 store must hold no custom content (etcdutl
	// check v2store, with the new version's etcdutl, on each member's
	// data dir) before any member runs To.
	CheckV2Store bool
	// NoExperimentalKeys: To no longer reads the experimental-* keys: as
	// flags it refuses them; in a config file it ignores them (etcd
	// 3.7.3 started with experimental-initial-corrupt-check: true and
	// reported the InitialCorruptCheck gate off), so the setting would be
	// silently lost. The keys etcdform manages are rewritten for To
	// (internal/etcdconf/keys.go); any other is a refusal.
	NoExperimentalKeys bool
	// Source is where the rule comes from.
	Source string
}

// upgradeRules are etcd's minor upgrades, one row per step, each with its
// source. TestUpgradeRules checks each.
var upgradeRules = []UpgradeRule{
	{From: "3.4", To: "3.5",
		Source: "https://etcd.io/docs/v3.5/upgrades/upgrade_3_5/"},
	{From: "3.5", To: "3.6", MinFrom: "3.5.32", CheckV2Store: true,
		Source: "https://etcd.io/docs/v3.6/upgrades/upgrade_3_6/ (upgrade from the latest 3.5 patch, 3.5.32 when last checked, after etcdutl check v2store: 3.6 no longer reads the v2 store, and earlier 3.5 patches have the learner, zombie-member and v2-store bugs the guide names)"},
	{From: "3.6", To: "3.7", MinFrom: "3.6.11", NoExperimentalKeys: true,
		Source: "https://etcd.io/docs/v3.7/upgrades/upgrade_3_7/ (from 3.6.11 or later; 3.7 removed the experimental-* flags that 3.6 turned into feature gates and new names: it refuses them as flags and ignores them in a config file)"},
}

// version is a release version x.y.z.
type version struct{ major, minor, patch int }

func parseVersion(s string) (version, bool) {
	p := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(p) != 3 {
		return version{}, false
	}
	var v [3]int
	for i, x := range p {
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 {
			return version{}, false
		}
		v[i] = n
	}
	return version{v[0], v[1], v[2]}, true
}

func (v version) series() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }
func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }
func (v version) less(w version) bool {
	if v.major != w.major {
		return v.major < w.major
	}
	if v.minor != w.minor {
		return v.minor < w.minor
	}
	return v.patch < w.patch
}

// ruleFrom returns the rule of the minor step out of minor, or nil.
func ruleFrom(minor string) *UpgradeRule {
	for i := range upgradeRules {
		if upgradeRules[i].From == minor {
			return &upgradeRules[i]
		}
	}
	return nil
}

// UpgradePath says how to move a member from version from to version to.
// It returns the rule of a one-minor step (nil for a patch change), or,
// when the change cannot be planned as one rolling apply, why, with the
// chain of applies that gets there (a jump of two minors lists each
// step, a 3.5 older than its rule's MinFrom first goes to that patch).
func UpgradePath(from, to string) (rule *UpgradeRule, refusal string) {
	f, ok1 := parseVersion(from)
	t, ok2 := parseVersion(to)
	switch {
	case !ok1 || !ok2:
		return nil, fmt.Sprintf("the versions %q and %q are not release versions", from, to)
	case f.major == t.major && f.minor == t.minor:
		return nil, "" // a patch change: free
	case t.less(f):
		return nil, fmt.Sprintf("%s is older than %s: a downgrade, which follows etcd's downgrade rules (DowngradePath), not its upgrade rules", to, from)
	case f.major != t.major:
		return nil, fmt.Sprintf("%s to %s changes the major version, which etcd has no upgrade path for", from, to)
	}
	var chain []string
	cur := f
	var first *UpgradeRule
	for cur.series() != t.series() {
		r := ruleFrom(cur.series())
		if r == nil {
			return nil, fmt.Sprintf("etcdform knows no upgrade from %s (its rules cover %s)", cur.series(), knownSteps())
		}
		if first == nil {
			first = r
		}
		if min, _ := parseVersion(r.MinFrom); r.MinFrom != "" && cur.less(min) {
			chain = append(chain, fmt.Sprintf("%s (at least %s, required before %s)", r.From, r.MinFrom, r.To))
		}
		cur, _ = parseVersion(r.To + ".0")
		if cur.series() == t.series() {
			break
		}
		// An intermediate minor: the chain goes through the patch the
		// next step needs.
		label := cur.series()
		if nr := ruleFrom(cur.series()); nr != nil && nr.MinFrom != "" {
			label = fmt.Sprintf("%s (at least %s)", cur.series(), nr.MinFrom)
			cur, _ = parseVersion(nr.MinFrom)
		}
		chain = append(chain, label)
	}
	if len(chain) == 0 {
		return first, ""
	}
	steps := append([]string{from}, chain...)
	steps = append(steps, to)
	return nil, fmt.Sprintf("etcd upgrades one minor version at a time, each from a patch its guide accepts: apply these one after the other, setting etcd_version to each in turn: %s", strings.Join(steps, " -> "))
}

func knownSteps() string {
	var out []string
	for _, r := range upgradeRules {
		out = append(out, r.From+" -> "+r.To)
	}
	return strings.Join(out, ", ")
}

// DowngradeRule is etcd's documented downgrade of one minor version to the
// one below it: `etcdctl downgrade validate` and `downgrade enable` for
// To (the cluster version drops to To at once, and every member migrates
// its storage to To), then each member's binary replaced, the leader
// last; `downgrade cancel` while a member still runs From undoes it. A
// downgrade within a minor (a patch) needs no rule: etcd compares server
// and cluster versions by major.minor only (MustDetectDowngrade in
// server/etcdserver/version/downgrade.go keeps "only major.minor ... for
// comparison against cluster version"), and the storage version is a
// minor's, so a patch downgrade is a rolling swap of binaries, as a patch
// upgrade is.
type DowngradeRule struct {
	From, To string // minor versions: "3.6", "3.5"
	Source   string
}

// downgradeRules are the minor downgrades etcd's downgrade API does, one
// row per step, each with its source. etcd's downgrade API
// (Maintenance.Downgrade) arrived with 3.6 servers: 3.5 cannot carry out
// `downgrade enable`, and etcd's 3.5 to 3.4 guide is a different procedure
// (plain binary swaps, with auth disabled first) that etcdform does not
// plan. TestDowngradeRules checks each.
var downgradeRules = []DowngradeRule{
	{From: "3.6", To: "3.5",
		Source: "https://etcd.io/docs/v3.6/downgrades/downgrade_3_6/ (downgrade validate 3.5, downgrade enable 3.5, wait until every member's storage version is 3.5.0, then replace one member at a time, the leader last; downgrade cancel while the cluster is mixed)"},
	{From: "3.7", To: "3.6",
		Source: "https://etcd.io/docs/v3.7/downgrades/downgrade_3_7/ (the same procedure; v3.7 adds no flag v3.6 lacks)"},
}

// downgradeRuleFrom returns the rule of the minor downgrade out of minor,
// or nil.
func downgradeRuleFrom(minor string) *DowngradeRule {
	for i := range downgradeRules {
		if downgradeRules[i].From == minor {
			return &downgradeRules[i]
		}
	}
	return nil
}

// downgradeOneMinor is etcd's rule that a downgrade goes one minor at a
// time, and where it says so.
const downgradeOneMinor = "etcd downgrades one minor version at a time (\"We only support downgrading one minor version at a time\", https://etcd.io/docs/v3.6/downgrades/downgrade_3_6/, step 3; its server accepts only the minor below the cluster version, AllowedDowngradeVersion in server/etcdserver/version/downgrade.go)"

// DowngradePath says how to move a cluster from version from down to the
// older version to. It returns the rule of a one-minor downgrade, nil
// with no refusal for a patch downgrade (a rolling swap of binaries), or
// why etcd cannot do it: two minors at once (with the chain of applies
// that gets there), below 3.5, a major change.
func DowngradePath(from, to string) (rule *DowngradeRule, refusal string) {
	f, ok1 := parseVersion(from)
	t, ok2 := parseVersion(to)
	switch {
	case !ok1 || !ok2:
		return nil, fmt.Sprintf("the versions %q and %q are not release versions", from, to)
	case !t.less(f):
		return nil, fmt.Sprintf("%s is not older than %s: not a downgrade", to, from)
	case f.major == t.major && f.minor == t.minor:
		return nil, "" // a patch: a rolling swap of binaries
	case f.major != t.major:
		return nil, fmt.Sprintf("%s to %s changes the major version, which etcd cannot downgrade", from, to)
	case t.minor < f.minor-1:
		steps := []string{from}
		for m := f.minor - 1; m > t.minor; m-- {
			steps = append(steps, fmt.Sprintf("%d.%d", f.major, m))
		}
		steps = append(steps, to)
		return nil, fmt.Sprintf("%s: apply these one after the other, setting etcd_version to each in turn: %s", downgradeOneMinor, strings.Join(steps, " -> "))
	}
	r := downgradeRuleFrom(f.series())
	if r == nil {
		return nil, fmt.Sprintf("etcd's downgrade API (downgrade validate and enable) needs the cluster at 3.6 or later, and etcdform plans downgrades only through it (its rules cover %s; https://etcd.io/docs/v3.6/downgrades/downgrade_3_6/); a %s to %s downgrade follows etcd's %s guide by hand, from a snapshot", knownDowngrades(), f.series(), t.series(), f.series())
	}
	return r, ""
}

func knownDowngrades() string {
	var out []string
	for _, r := range downgradeRules {
		out = append(out, r.From+" -> "+r.To)
	}
	return strings.Join(out, ", ")
}
