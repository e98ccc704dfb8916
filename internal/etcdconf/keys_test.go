package etcdconf

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestKeyVersions pins which keys each etcd version gets for the
// corruption checks: experimental-* keys before 3.6, feature gates and the
// renamed period from 3.6 on (3.6 reads both; the gate is its documented
// form), and never an experimental-* key for 3.7, which ignores them.
func TestKeyVersions(t *testing.T) {
	all := Checks{Initial: true, CompactHash: true, CompactHashPeriod: 2 * time.Minute}
	cases := map[string]struct {
		version string
		checks  Checks
		want    map[string]string // flattened keys of the file, only those of the checks
		err     string
	}{
		"3.5.35": {version: "3.5.35", checks: all, want: map[string]string{
			"experimental-initial-corrupt-check":      "true",
			"experimental-compact-hash-check-enabled": "true",
			"experimental-compact-hash-check-time":    "120000000000",
		}},
		"3.6.16": {version: "3.6.16", checks: all, want: map[string]string{
			"feature-gates":           "CompactHashCheck=true,InitialCorruptCheck=true",
			"compact-hash-check-time": "120000000000",
		}},
		"3.7.3": {version: "3.7.3", checks: all, want: map[string]string{
			"feature-gates":           "CompactHashCheck=true,InitialCorruptCheck=true",
			"compact-hash-check-time": "120000000000",
		}},
		"newest": {version: "", checks: all, want: map[string]string{
			"feature-gates":           "CompactHashCheck=true,InitialCorruptCheck=true",
			"compact-hash-check-time": "120000000000",
		}},
		"3.6 initial only": {version: "3.6.0", checks: Checks{Initial: true}, want: map[string]string{
			"feature-gates": "InitialCorruptCheck=true",
		}},
		"3.6 compact hash, default period": {version: "3.6.16", checks: Checks{CompactHash: true}, want: map[string]string{
			"feature-gates":           "CompactHashCheck=true",
			"compact-hash-check-time": "60000000000",
		}},
		"3.5.5 is the first with the compact hash check": {version: "3.5.5", checks: Checks{CompactHash: true}, want: map[string]string{
			"experimental-compact-hash-check-enabled": "true",
			"experimental-compact-hash-check-time":    "60000000000",
		}},
		"3.5.4 has no compact hash check": {version: "3.5.4", checks: Checks{CompactHash: true},
			err: "etcd 3.5.4 has no config key for the compact hash check (it has one from 3.5.5)"},
		"3.4 has the initial check": {version: "3.4.30", checks: Checks{Initial: true}, want: map[string]string{
			"experimental-initial-corrupt-check": "true",
		}},
		"off is absent": {version: "3.5.35", checks: Checks{}, want: map[string]string{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := goodFile()
			// Keys of another version are cleared.
			f.ExperimentalInitialCorruptCheck, f.FeatureGates, f.CompactHashCheckTime = true, "X=true", 1
			err := f.SetChecks(tc.checks, tc.version)
			if tc.err != "" {
				if err == nil || err.Error() != "etcdconf: "+tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Unknown) > 0 {
				t.Errorf("keys parsed as unmanaged: %v", p.Unknown)
			}
			got := map[string]string{}
			for _, line := range strings.Split(string(b), "\n") {
				k, v, _ := strings.Cut(line, ": ")
				if k == "feature-gates" || strings.Contains(k, "corrupt") || strings.Contains(k, "compact-hash") {
					got[k] = v
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("rendered for %q (-want +got):\n%s\n%s", tc.version, diff, b)
			}
		})
	}
}

// TestKeyTable checks the table's own consistency: every key that some
// version stops reading is an experimental-* key that 3.7 dropped, and
// every setting has a key in the newest etcd.
func TestKeyTable(t *testing.T) {
	for _, r := range Keys() {
		if r.Source == "" {
			t.Errorf("%s %s: no source", r.Setting, r.Key)
		}
		if r.Until != "" && (!strings.HasPrefix(r.Key, "experimental-") || r.Until != "3.7") {
			t.Errorf("%s %s: dropped in %s", r.Setting, r.Key, r.Until)
		}
		if (r.Key == "feature-gates") != (r.Gate != "") {
			t.Errorf("%s %s: gate %q", r.Setting, r.Key, r.Gate)
		}
		if k, ok := KeyFor(r.Setting, "3.7.3"); !ok || strings.HasPrefix(k.Key, "experimental-") {
			t.Errorf("%s: 3.7.3 gets %v, %v", r.Setting, k, ok)
		}
	}
}

// A file holding the keys etcdform owns parses them as managed: an
// upgrade rewrites them instead of refusing them as unknown.
func TestParseKnowsVersionKeys(t *testing.T) {
	p, err := Parse([]byte("name: a\nexperimental-initial-corrupt-check: true\nexperimental-compact-hash-check-time: 60000000000\nfeature-gates: InitialCorruptCheck=true\nlog-outputs: [stderr]\nmetrics: extensive\nlisten-metrics-urls: http://10.0.0.1:2381\nexperimental-memory-mlock: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"experimental-memory-mlock"}, p.Unknown); diff != "" {
		t.Fatal(diff)
	}
	if !p.File.ExperimentalInitialCorruptCheck || p.File.ExperimentalCompactHashCheckTime != int64(time.Minute) || p.File.Metrics != "extensive" {
		t.Fatalf("%+v", p.File)
	}
}

// Checks reads back what SetChecks wrote, for every version; gates set by
// hand survive KeepOtherGates, the table's own do not.
func TestChecksRoundTrip(t *testing.T) {
	all := Checks{Initial: true, CompactHash: true, CompactHashPeriod: 2 * time.Minute}
	for _, v := range []string{"3.5.35", "3.6.16", "3.7.3", ""} {
		f := goodFile()
		if err := f.SetChecks(all, v); err != nil {
			t.Fatal(err)
		}
		if got := f.Checks(); got != all {
			t.Errorf("%q: Checks() = %+v, want %+v", v, got, all)
		}
	}
	f := goodFile()
	if err := f.SetChecks(Checks{Initial: true}, "3.6.16"); err != nil {
		t.Fatal(err)
	}
	f.KeepOtherGates("StopGRPCServiceOnDefrag=true, CompactHashCheck=true,InitialCorruptCheck=false")
	if want := "InitialCorruptCheck=true,StopGRPCServiceOnDefrag=true"; f.FeatureGates != want {
		t.Errorf("feature-gates %q, want %q", f.FeatureGates, want)
	}
	var g File
	g.CopyChecks(f)
	if g.FeatureGates != f.FeatureGates || g.Checks() != (Checks{Initial: true}) {
		t.Errorf("CopyChecks: %+v", g)
	}
}
