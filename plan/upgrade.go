package plan

import (
	"fmt"
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
	ok, v2check := true, false
	for _, v := range versions {
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
	for _, m := range behind {
		w := cp.work.of(m)
		s := installBinaryStep(c, m.desired, m.host, rel)
		s.Action, s.MemberID, s.Leader = StageBinary, m.id(), m.leader
		s.Reason = fmt.Sprintf("Stage etcd %s from %s (sha256 %s, as %s says) next to the binaries on the host, checked there; they are swapped in by the member's upgrade-member step, and the member runs its old version until then", rel.Version, rel.Source, rel.SHA256, rel.SumFrom)
		w.binary, w.from, w.to = &s, m.host.BinaryVersion, c.EtcdVersion
		if v2check {
			w.check = &Step{Action: CheckV2Store, Cluster: c.Name, Member: m.name, MemberID: m.id(), Leader: m.leader,
				Reason:  "etcd 3.6 no longer reads the v2 store: check that it holds no custom content (etcdutl check v2store, on a copy of the WAL and v2 snapshots) before anything is installed",
				Changes: []Change{{Attr: "v2store", Before: "unchecked", After: "no custom content"}}}
		}
	}
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
