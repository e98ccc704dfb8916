package state

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Fingerprint is the part of the observed state that apply re-checks. A
// leader change alone does not alter it.
type Fingerprint struct {
	Clusters []ClusterFingerprint
}

// ClusterFingerprint identifies one cluster's observed state.
type ClusterFingerprint struct {
	Name      string
	ClusterID uint64
	// Leaderless is set when no member reported a leader: the raft
	// applied index of every member that answered ("etcd-1=1234
	// etcd-3=1240"), which cannot move without a quorum. A plan made for
	// a cluster that lost its quorum (plan --recover picks its survivor by
	// these indexes) goes stale when a leader comes back or any index
	// moves.
	Leaderless string
	// Auth is the digest of the auth store (Auth.Digest): a plan of auth
	// steps goes stale when auth is switched, a role's permissions or a
	// user's roles change, or a password is set. "" when not observed.
	Auth    string
	Members []MemberFingerprint // sorted by name
}

// MemberFingerprint identifies one member's observed state.
type MemberFingerprint struct {
	Name          string
	ID            uint64
	PeerURLs      []string
	ClientURLs    []string
	IsLearner     bool
	ConfigHash    string
	BinaryVersion string
	ServiceState  string
	CertSerials   []string
	// DataDir is the identity the member's data dir holds
	// (DataDir.Label): a plan that starts, rebuilds or refuses a member
	// for what its data dir holds goes stale when that changes.
	DataDir string
}

// FingerprintOf extracts from obs what apply re-checks before it starts:
// per cluster its ID and, per member, the IDs, names, URLs, learner flag,
// config file hash, binary version, service state, certificate serials and
// the identity its data dir holds.
// Leader, raft indexes and sizes are left out: they change all the time
// without making a plan stale. Everything is sorted, so two observations of
// the same world give equal fingerprints.
func FingerprintOf(obs *Observed) Fingerprint {
	var fp Fingerprint
	if obs == nil {
		return fp
	}
	for _, name := range sortedKeys(obs.Clusters) {
		oc := obs.Clusters[name]
		cf := ClusterFingerprint{Name: name, ClusterID: oc.ClusterID, Leaderless: leaderless(oc), Auth: oc.Auth.Digest()}
		seen := map[string]bool{}
		for _, lm := range oc.Members {
			mf := MemberFingerprint{
				Name: lm.Name, ID: lm.ID, IsLearner: lm.IsLearner,
				PeerURLs: sortedCopy(lm.PeerURLs), ClientURLs: sortedCopy(lm.ClientURLs),
			}
			if lm.Name != "" {
				hostFacts(&mf, oc.Hosts[lm.Name])
				seen[lm.Name] = true
			}
			cf.Members = append(cf.Members, mf)
		}
		// Hosts of members not (yet) in the member list, such as the
		// hosts of members to add.
		for _, hn := range sortedKeys(oc.Hosts) {
			if !seen[hn] {
				mf := MemberFingerprint{Name: hn}
				hostFacts(&mf, oc.Hosts[hn])
				cf.Members = append(cf.Members, mf)
			}
		}
		sort.SliceStable(cf.Members, func(i, j int) bool {
			a, b := cf.Members[i], cf.Members[j]
			if a.Name != b.Name {
				return a.Name < b.Name
			}
			return a.ID < b.ID
		})
		fp.Clusters = append(fp.Clusters, cf)
	}
	return fp
}

// leaderless is ClusterFingerprint.Leaderless of oc: "" when a member
// reports a leader or none answered.
func leaderless(oc *Cluster) string {
	if oc.LeaderID != 0 {
		return ""
	}
	var parts []string
	for _, m := range oc.Members {
		if m.Status != nil {
			parts = append(parts, fmt.Sprintf("%s=%d", m.Name, m.Status.RaftAppliedIndex))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func hostFacts(mf *MemberFingerprint, h *Host) {
	if h == nil {
		return
	}
	if !h.Reachable {
		mf.ServiceState = "unreachable"
		return
	}
	mf.ConfigHash = h.ConfigHash
	mf.BinaryVersion = h.BinaryVersion
	mf.ServiceState = h.ServiceState
	mf.DataDir = h.Data.Label()
	for _, c := range h.Certs {
		mf.CertSerials = append(mf.CertSerials, c.Role+":"+c.Serial)
	}
	sort.Strings(mf.CertSerials)
}

// DiffFingerprint lists, one human line each, how the world changed
// between the fingerprint a plan was made against and the current one, e.g.
//
//	cluster lab: member etcd-2 config hash changed (ab12cd34.. -> 9f8e7d6c..)
//
// It returns nil when they are equal.
func DiffFingerprint(planned, now Fingerprint) []string {
	var out []string
	pc, nc := clusterIndex(planned), clusterIndex(now)
	for _, name := range unionKeys(pc, nc) {
		a, b := pc[name], nc[name]
		switch {
		case a == nil:
			out = append(out, fmt.Sprintf("cluster %s: appeared", name))
			continue
		case b == nil:
			out = append(out, fmt.Sprintf("cluster %s: no longer observed", name))
			continue
		}
		if a.ClusterID != b.ClusterID {
			out = append(out, fmt.Sprintf("cluster %s: cluster ID changed (%x -> %x)", name, a.ClusterID, b.ClusterID))
		}
		if a.Leaderless != b.Leaderless {
			out = append(out, fmt.Sprintf("cluster %s: applied indexes without a leader changed (%s -> %s)", name, orDash(a.Leaderless), orDash(b.Leaderless)))
		}
		if a.Auth != b.Auth {
			out = append(out, fmt.Sprintf("cluster %s: auth (enabled, roles, permissions, users or passwords) changed (%s -> %s)", name, orDash(shortHash(a.Auth)), orDash(shortHash(b.Auth))))
		}
		pm, nm := memberIndex(a), memberIndex(b)
		for _, key := range unionKeys(pm, nm) {
			x, y := pm[key], nm[key]
			prefix := fmt.Sprintf("cluster %s: member %s", name, memberLabel(x, y))
			switch {
			case x == nil:
				out = append(out, prefix+" was added")
				continue
			case y == nil:
				out = append(out, prefix+" was removed")
				continue
			}
			field := func(what, before, after string) {
				if before != after {
					out = append(out, fmt.Sprintf("%s %s changed (%s -> %s)", prefix, what, orDash(before), orDash(after)))
				}
			}
			switch {
			case x.ID != 0 && y.ID == 0:
				out = append(out, prefix+" left the member list")
			case x.ID == 0 && y.ID != 0:
				out = append(out, prefix+" joined the member list")
			default:
				field("ID", hexID(x.ID), hexID(y.ID))
				field("peer URLs", strings.Join(x.PeerURLs, ","), strings.Join(y.PeerURLs, ","))
				field("client URLs", strings.Join(x.ClientURLs, ","), strings.Join(y.ClientURLs, ","))
				field("learner flag", fmt.Sprint(x.IsLearner), fmt.Sprint(y.IsLearner))
			}
			field("config hash", shortHash(x.ConfigHash), shortHash(y.ConfigHash))
			field("binary version", x.BinaryVersion, y.BinaryVersion)
			field("service state", x.ServiceState, y.ServiceState)
			field("certificate serials", strings.Join(x.CertSerials, ","), strings.Join(y.CertSerials, ","))
			field("data dir", x.DataDir, y.DataDir)
		}
	}
	return out
}

func clusterIndex(fp Fingerprint) map[string]*ClusterFingerprint {
	m := map[string]*ClusterFingerprint{}
	for i := range fp.Clusters {
		m[fp.Clusters[i].Name] = &fp.Clusters[i]
	}
	return m
}

// memberIndex keys members by name, and unnamed (unstarted) members by ID.
func memberIndex(c *ClusterFingerprint) map[string]*MemberFingerprint {
	m := map[string]*MemberFingerprint{}
	for i := range c.Members {
		mf := &c.Members[i]
		key := "name:" + mf.Name
		if mf.Name == "" {
			key = "id:" + hexID(mf.ID)
		}
		m[key] = mf
	}
	return m
}

func memberLabel(a, b *MemberFingerprint) string {
	for _, m := range []*MemberFingerprint{a, b} {
		if m != nil && m.Name != "" {
			return m.Name
		}
	}
	for _, m := range []*MemberFingerprint{a, b} {
		if m != nil {
			return hexID(m.ID)
		}
	}
	return "?"
}

func hexID(id uint64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("%x", id)
}

func shortHash(h string) string {
	if len(h) > 8 {
		return h[:8] + ".."
	}
	return h
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
