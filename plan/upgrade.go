package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// upgradeWork plans the upgrade of the members whose host runs another
// etcd version than etcd_version, by the rules of upgrade_rules.go: the
// checked release is installed on each of their hosts (install-binary,
// all before the first restart), then each restarts on it
// (upgrade-member, which waits until it reports the version) in the
// rolling order, followers first and the leader last. Without an install
// block the difference is only a warning. A change the rules do not allow
// in one apply (two minors, a patch below a rule's minimum, a downgrade)
// is a refusal that says which applies get there; so are experimental-*
// config keys etcdform does not own before 3.7, and an artifact that
// failed its check. The keys it owns need no refusal: configWork renders
// each upgraded member's file for the version it restarts on
// (runsVersion, internal/etcdconf/keys.go), and rollingWork writes it
// right before that member's upgrade-member step.
//
// Members that are down, or whose host cannot be reached, are left to
// the recovery phases; the next plan upgrades them.
func (cp *clusterPlanner) upgradeWork() {
	c := cp.c
	if c.EtcdVersion == "" {
		return
	}
	var behind []*member
	from := map[string][]string{} // version -> members
	for _, m := range cp.kept {
		if m.down || m.hostDown || m.host == nil || m.host.BinaryVersion == "" || m.host.BinaryVersion == c.EtcdVersion {
			continue
		}
		behind = append(behind, m)
		from[m.host.BinaryVersion] = append(from[m.host.BinaryVersion], m.name)
	}
	if len(behind) == 0 {
		return
	}
	if c.Install == nil {
		for _, m := range behind {
			cp.warn(m.name, "Binary version differs", "Member %s runs etcd %s on its host, the configuration wants %s. Add an install block (docs/language.md) so that etcdform upgrades it, or upgrade the binary by hand, one member at a time.", m.name, m.host.BinaryVersion, c.EtcdVersion)
		}
		return
	}
	versions := make([]string, 0, len(from))
	for v := range from {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	ok, v2check := cp.refuseLearners(behind), false
	older := map[string]bool{} // from-versions the change goes down from
	var down *DowngradeRule
	for _, v := range versions {
		if olderVersion(c.EtcdVersion, v) {
			older[v] = true
			rule, refusal := DowngradePath(v, c.EtcdVersion)
			if refusal != "" {
				cp.refuse("", 0, "Version change not planned",
					"Members %s run etcd %s, the configuration wants %s, and %s.", strings.Join(from[v], ", "), v, c.EtcdVersion, refusal)
				ok = false
			}
			if rule != nil {
				down = rule
			}
			continue
		}
		rule, refusal := UpgradePath(v, c.EtcdVersion)
		if refusal != "" {
			cp.refuse("", 0, "Version change not planned",
				"Members %s run etcd %s, the configuration wants %s, and %s.", strings.Join(from[v], ", "), v, c.EtcdVersion, refusal)
			ok = false
			continue
		}
		v2check = v2check || rule != nil && rule.CheckV2Store
		if rule != nil && rule.NoExperimentalKeys {
			ok = cp.refuseExperimental(rule) && ok
		}
	}
	if down != nil {
		ok = cp.refuseDowngrade(down, behind, from) && ok
	}
	if !ok {
		return
	}
	rel := cp.oc.Release
	if rel == nil || rel.Error != "" {
		why := "it was not fetched"
		if rel != nil {
			why = rel.Error
		}
		cp.refuse("", 0, "Install artifact refused",
			"Members %s need etcd %s, and the install source %s cannot be installed: %s. Nothing is installed on any host.", memberNames(behind), c.EtcdVersion, c.Install.Expand(c.EtcdVersion), why)
		return
	}
	cp.downgrade, cp.versionTo = down, c.EtcdVersion
	for _, m := range behind {
		w := cp.work.of(m)
		s := installBinaryStep(c, m.desired, m.host, rel)
		s.Action, s.MemberID, s.Leader = StageBinary, m.id(), m.leader
		s.Reason = fmt.Sprintf("Stage etcd %s from %s (sha256 %s, as %s says) next to the binaries on the host, checked there; they are swapped in by the member's upgrade-member step, and the member runs its old version until then", rel.Version, rel.Source, rel.SHA256, rel.SumFrom)
		w.binary, w.from, w.to = &s, m.host.BinaryVersion, c.EtcdVersion
		w.older = older[m.host.BinaryVersion]
		if v2check {
			w.check = &Step{Action: CheckV2Store, Cluster: c.Name, Member: m.name, MemberID: m.id(), Leader: m.leader,
				Reason:  "etcd 3.6 no longer reads the v2 store: check that it holds no custom content (etcdutl check v2store, on a copy of the WAL and v2 snapshots) before anything is installed",
				Changes: []Change{{Attr: "v2store", Before: "unchecked", After: "no custom content"}}}
		}
	}
}

// olderVersion reports whether release version a is older than b; false
// when either is no release version (UpgradePath refuses those).
func olderVersion(a, b string) bool {
	va, ok1 := parseVersion(a)
	vb, ok2 := parseVersion(b)
	return ok1 && ok2 && va.less(vb)
}

// refuseLearners refuses a version change while the live member list holds
// a learner, and reports whether it holds none. A learner is a membership
// change under way (an apply that stopped between add-learner and promote,
// or a member added by hand): finished first, in an apply of its own, it
// is gated and audited alone, and no learner is ever swapped to another
// version. etcd's 3.5 patches below the 3.6 guide's minimum are below it
// for learner bugs; mixing the two changes is what those bugs needed.
func (cp *clusterPlanner) refuseLearners(behind []*member) bool {
	var learners []string
	for _, lm := range cp.oc.Members {
		if lm.IsLearner {
			name := lm.Name
			if name == "" {
				name = fmt.Sprintf("%x", lm.ID)
			}
			learners = append(learners, name)
		}
	}
	if len(learners) == 0 {
		return true
	}
	cp.refuse("", 0, "Learner during a version change",
		"The member list holds the learner %s while members %s need etcd %s. A version change runs on voters only: apply the configuration with etcd_version unchanged first (the plan promotes the learner, or removes and adds it again), then change etcd_version.", strings.Join(learners, ", "), memberNames(behind), cp.c.EtcdVersion)
	return false
}

// refuseDowngrade refuses a minor downgrade that etcd's downgrade guide
// does not start from: every member of the cluster up and running one
// version (rule.From), the cluster version at that minor (no downgrade
// enabled yet), and no membership change in the same plan. It reports
// whether there was nothing to refuse.
func (cp *clusterPlanner) refuseDowngrade(rule *DowngradeRule, behind []*member, from map[string][]string) bool {
	c := cp.c
	ok := true
	var left []string
	for _, m := range cp.kept {
		if !slices.Contains(behind, m) && !(m.host != nil && m.host.BinaryVersion == c.EtcdVersion) {
			left = append(left, m.name)
		}
	}
	if len(from) > 1 || len(behind) < len(cp.kept) {
		var runs []string
		for v, ms := range from {
			verb := " run "
			if len(ms) == 1 {
				verb = " runs "
			}
			runs = append(runs, strings.Join(ms, ", ")+verb+v)
		}
		sort.Strings(runs)
		detail := strings.Join(runs, "; ")
		if n := len(cp.kept) - len(behind) - len(left); n > 0 {
			detail += fmt.Sprintf("; %d already run%s %s", n, map[bool]string{true: "s", false: ""}[n == 1], c.EtcdVersion)
		}
		if len(left) > 0 {
			detail += "; " + strings.Join(left, ", ") + " are down or their hosts could not be read"
		}
		cp.refuse("", 0, "Downgrade of a mixed cluster",
			"A downgrade to %s starts from a healthy cluster whose members all run one %s version (%s), and %s. Bring every member up on one version (an interrupted upgrade or downgrade: finish it or run etcdctl downgrade cancel and put the previous binaries back), then plan again.", c.EtcdVersion, rule.From, rule.Source, detail)
		ok = false
	}
	if cv, okv := parseVersion(cp.oc.ClusterVersion); okv && cv.series() != rule.From {
		cp.refuse("", 0, "Downgrade already enabled",
			"The cluster version is %s while the members run %s: a downgrade was enabled already (by an apply that stopped, or by hand). etcdform starts a downgrade only from a cluster at %s: run etcdctl downgrade cancel (or finish the downgrade by hand) and plan again.", cp.oc.ClusterVersion, rule.From, rule.From)
		ok = false
	}
	if len(cp.added) > 0 || len(cp.removed) > 0 {
		cp.refuse("", 0, "Downgrade with membership changes",
			"The plan would add or remove members and downgrade to %s. Once a downgrade is enabled only members of the target version may join, and a member added before it runs the newer version: change the membership and the version in two applies.", c.EtcdVersion)
		ok = false
	}
	return ok
}

// refuseExperimental refuses an upgrade to rule.To while a member's config
// file holds experimental-* keys etcdform does not manage (ConfigUnknown),
// which that version drops; it reports whether there were none. The
// experimental keys it manages are rewritten by the upgrade instead.
func (cp *clusterPlanner) refuseExperimental(rule *UpgradeRule) bool {
	ok := true
	for _, m := range cp.kept {
		if m.host == nil {
			continue
		}
		var keys []string
		for _, k := range m.host.ConfigUnknown {
			if strings.HasPrefix(k, "experimental-") {
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			cp.refuse(m.name, 0, "Experimental config keys",
				"The config file of %s holds %s, which etcdform does not manage. etcd %s no longer reads experimental-* keys (%s). Move each to its feature gate or new name on etcd %s, apply, and plan the upgrade again (etcdform rewrites the keys it manages itself: the corruption_check block's).", m.name, strings.Join(keys, ", "), rule.To, rule.Source, rule.From)
			ok = false
		}
	}
	return ok
}

func memberNames(ms []*member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.name)
	}
	return strings.Join(out, ", ")
}
