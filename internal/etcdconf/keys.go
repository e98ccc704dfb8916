package etcdconf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Setting is a setting etcdform renders whose config key depends on the
// etcd version: etcd 3.6 turned most experimental-* keys into feature
// gates or keys without the prefix, and 3.7 dropped the experimental-*
// keys (it reads its config file without strictness, so an old key is
// silently ignored there, and the check it carried is off).
type Setting string

// The version-dependent settings etcdform renders.
const (
	// InitialCorruptCheck: a member compares its hash with its peers'
	// before it serves any traffic.
	InitialCorruptCheck Setting = "initial corruption check"
	// CompactHashCheck: the leader compares the followers' hashes at each
	// compaction revision.
	CompactHashCheck Setting = "compact hash check"
	// CompactHashCheckTime: how often the leader runs that check.
	CompactHashCheckTime Setting = "compact hash check period"
)

// KeyVersions says which config key carries a setting in which etcd
// versions.
type KeyVersions struct {
	Setting Setting
	// Key is the config file's key; for a feature gate "feature-gates",
	// and Gate names the gate ("InitialCorruptCheck").
	Key, Gate string
	// Since is the first version that reads the key, Until the first that
	// no longer does ("" for none yet); each "3.6" (= "3.6.0") or
	// "3.5.5".
	Since, Until string
	// Source is where in etcd's source this row was read.
	Source string
}

// keyVersions is the table of version-dependent keys, read from etcd's
// server/embed/config.go and server/features/etcd_features.go at v3.5.35,
// v3.6.16 and v3.7.3 and its CHANGELOGs. TestKeyVersions pins what each
// version gets.
var keyVersions = []KeyVersions{
	{Setting: InitialCorruptCheck, Key: "experimental-initial-corrupt-check", Since: "3.3", Until: "3.7",
		Source: "CHANGELOG-3.3 (added); v3.6.16 embed/config.go: deprecated for the InitialCorruptCheck gate, 'decommissioned in v3.7'; absent from v3.7.3"},
	{Setting: InitialCorruptCheck, Key: "feature-gates", Gate: "InitialCorruptCheck", Since: "3.6",
		Source: "v3.6.16 server/features/etcd_features.go (Alpha, default false); v3.7.3 the same"},
	{Setting: CompactHashCheck, Key: "experimental-compact-hash-check-enabled", Since: "3.5.5", Until: "3.7",
		Source: "CHANGELOG-3.5 v3.5.5 (added); v3.6.16 embed/config.go: deprecated for the CompactHashCheck gate; absent from v3.7.3"},
	{Setting: CompactHashCheck, Key: "feature-gates", Gate: "CompactHashCheck", Since: "3.6",
		Source: "v3.6.16 server/features/etcd_features.go (Alpha, default false); v3.7.3 the same"},
	{Setting: CompactHashCheckTime, Key: "experimental-compact-hash-check-time", Since: "3.5.5", Until: "3.7",
		Source: "CHANGELOG-3.5 v3.5.5 (added); v3.6.16 embed/config.go experimentalFlagMigrationMap: renamed compact-hash-check-time; absent from v3.7.3"},
	{Setting: CompactHashCheckTime, Key: "compact-hash-check-time", Since: "3.6",
		Source: "v3.6.16 and v3.7.3 embed/config.go (default 1m)"},
}

// Keys returns the table of version-dependent keys.
func Keys() []KeyVersions { return append([]KeyVersions(nil), keyVersions...) }

// KeyFor returns the row of the key etcd version v reads setting s from:
// of the keys v accepts, the newest (3.6 reads both the experimental key
// and the gate; the gate is its documented form). v is a release version
// ("3.6.16"); "" means the newest etcd, whatever it is. ok is false when v
// has no key for s.
func KeyFor(s Setting, v string) (row KeyVersions, ok bool) {
	var best *KeyVersions
	for i := range keyVersions {
		r := &keyVersions[i]
		if r.Setting != s || !r.accepts(v) {
			continue
		}
		if best == nil || versionLess(best.Since, r.Since) {
			best = r
		}
	}
	if best == nil {
		return KeyVersions{}, false
	}
	return *best, true
}

// accepts reports whether version v reads the row's key; "" is a version
// newer than any.
func (r *KeyVersions) accepts(v string) bool {
	if v == "" {
		return r.Until == ""
	}
	return !versionLess(v, r.Since) && (r.Until == "" || versionLess(v, r.Until))
}

// versionLess compares release versions ("3.6", "3.5.5", "v3.6.16")
// numerically; a missing part counts as 0.
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return false
}

func versionParts(v string) [3]int {
	var out [3]int
	for i, p := range strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3) {
		out[i], _ = strconv.Atoi(p)
	}
	return out
}

// Checks are etcd's corruption checks as etcdform means them, apart from
// the keys that carry them.
type Checks struct {
	Initial     bool
	CompactHash bool
	// CompactHashPeriod is how often the leader checks (etcd's default
	// 1m); rendered only with CompactHash.
	CompactHashPeriod time.Duration
}

// SetChecks writes c into f with the keys etcd version v reads (KeyFor;
// "" for the newest), and clears every other key of the table, so a file
// rendered for one version holds none of another's. It refuses a check
// that v has no key for. A check that is off is left out, as etcd's
// default.
func (f *File) SetChecks(c Checks, v string) error {
	f.FeatureGates = ""
	f.ExperimentalInitialCorruptCheck, f.ExperimentalCompactHashCheckEnabled = false, false
	f.ExperimentalCompactHashCheckTime, f.CompactHashCheckTime = 0, 0
	var gates []string
	set := func(s Setting, on bool, value int64) error {
		if !on {
			return nil
		}
		row, ok := KeyFor(s, v)
		if !ok {
			return fmt.Errorf("etcdconf: etcd %s has no config key for the %s (%s)", v, s, sinceOf(s))
		}
		switch row.Key {
		case "feature-gates":
			gates = append(gates, row.Gate+"=true")
		case "experimental-initial-corrupt-check":
			f.ExperimentalInitialCorruptCheck = true
		case "experimental-compact-hash-check-enabled":
			f.ExperimentalCompactHashCheckEnabled = true
		case "experimental-compact-hash-check-time":
			f.ExperimentalCompactHashCheckTime = value
		case "compact-hash-check-time":
			f.CompactHashCheckTime = value
		default:
			panic("etcdconf: no File field for key " + row.Key)
		}
		return nil
	}
	period := c.CompactHashPeriod
	if period == 0 {
		period = time.Minute
	}
	for _, x := range []struct {
		s     Setting
		on    bool
		value int64
	}{
		{InitialCorruptCheck, c.Initial, 0},
		{CompactHashCheck, c.CompactHash, 0},
		{CompactHashCheckTime, c.CompactHash, int64(period)},
	} {
		if err := set(x.s, x.on, x.value); err != nil {
			return err
		}
	}
	sort.Strings(gates)
	f.FeatureGates = strings.Join(gates, ",")
	return nil
}

// sinceOf says from which version etcd has a key for s.
func sinceOf(s Setting) string {
	oldest := ""
	for _, r := range keyVersions {
		if r.Setting == s && (oldest == "" || versionLess(r.Since, oldest)) {
			oldest = r.Since
		}
	}
	return "it has one from " + oldest
}

// ownsGate reports whether feature gate name carries a setting of the
// table.
func ownsGate(name string) bool {
	for _, r := range keyVersions {
		if r.Gate == name {
			return true
		}
	}
	return false
}

// Checks returns the corruption checks f turns on, from whichever of the
// table's keys it holds (an experimental key, a gate, a period under
// either name), as etcd would read them; a period is reported only with
// the compact hash check.
func (f *File) Checks() Checks {
	c := Checks{Initial: f.ExperimentalInitialCorruptCheck, CompactHash: f.ExperimentalCompactHashCheckEnabled}
	for _, g := range splitGates(f.FeatureGates) {
		name, val, _ := strings.Cut(g, "=")
		on := strings.EqualFold(strings.TrimSpace(val), "true")
		switch strings.TrimSpace(name) {
		case "InitialCorruptCheck":
			c.Initial = on
		case "CompactHashCheck":
			c.CompactHash = on
		}
	}
	if c.CompactHash {
		c.CompactHashPeriod = time.Duration(f.CompactHashCheckTime)
		if c.CompactHashPeriod == 0 {
			c.CompactHashPeriod = time.Duration(f.ExperimentalCompactHashCheckTime)
		}
	}
	return c
}

// CopyChecks sets f's version-dependent keys to src's, verbatim.
func (f *File) CopyChecks(src *File) {
	f.FeatureGates = src.FeatureGates
	f.ExperimentalInitialCorruptCheck = src.ExperimentalInitialCorruptCheck
	f.ExperimentalCompactHashCheckEnabled = src.ExperimentalCompactHashCheckEnabled
	f.ExperimentalCompactHashCheckTime = src.ExperimentalCompactHashCheckTime
	f.CompactHashCheckTime = src.CompactHashCheckTime
}

// KeepOtherGates adds to f's feature-gates the gates of observed (a
// feature-gates value read from a host) that carry no setting of the table:
// gates set by hand, which etcdform has no setting for, are kept as they
// are. The result is sorted.
func (f *File) KeepOtherGates(observed string) {
	gates := splitGates(f.FeatureGates)
	for _, g := range splitGates(observed) {
		name, _, _ := strings.Cut(g, "=")
		if !ownsGate(strings.TrimSpace(name)) {
			gates = append(gates, g)
		}
	}
	sort.Strings(gates)
	f.FeatureGates = strings.Join(gates, ",")
}

func splitGates(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}
