package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/etcdconf/render"
	. "github.com/etcdform/etcdform/plan"
	"github.com/etcdform/etcdform/schema"
	"github.com/etcdform/etcdform/state"
)

// withChecks turns both corruption checks on in c.
func withChecks(c *schema.Cluster) {
	c.CorruptionCheck = &schema.CorruptionCheck{Initial: true, CompactHash: true, CompactHashPeriod: time.Minute}
}

// hostsRenderedFor makes oc's hosts report version and hold the config
// files rendered for it, as an apply by that version's rules left them.
func hostsRenderedFor(t *testing.T, c *schema.Cluster, oc *state.Cluster, version string) {
	t.Helper()
	for _, m := range c.Members {
		h := oc.Hosts[m.Name]
		f, err := render.MemberFor(c, m, etcdconf.Bootstrap{InitialCluster: h.Config.InitialCluster, Token: "lab", State: "new"}, version)
		if err != nil {
			t.Fatal(err)
		}
		b, err := etcdconf.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		h.BinaryVersion, h.Config, h.ConfigContent = version, f, b
	}
}

// TestUpgradeRewritesVersionKeys: an upgrade from 3.5 renders each
// member's file for 3.6 (feature gates instead of the experimental-* keys)
// and writes it right before that member's upgrade-member step, in the same
// rolling restart; a cluster that stays on its version keeps its keys, and
// a second plan is empty.
func TestUpgradeRewritesVersionKeys(t *testing.T) {
	c, oc := upgradeLab("3.5.35", "3.6.16")
	withChecks(c)
	hostsRenderedFor(t, c, oc, "3.5.35")
	p := Make(config(c), observed(oc), Options{})
	want := []string{"snapshot  3/1",
		"check-v2store etcd-2 3/1", "check-v2store etcd-3 3/1", "check-v2store etcd-1 3/1 L",
		"stage-binary etcd-2 3/1", "stage-binary etcd-3 3/1", "stage-binary etcd-1 3/1 L",
		"write-config etcd-2 3/1", "upgrade-member etcd-2 3/0",
		"write-config etcd-3 3/1", "upgrade-member etcd-3 3/0",
		"write-config etcd-1 3/1 L", "upgrade-member etcd-1 3/0 L",
		"wait-cluster-version  3/1"}
	if diff := cmp.Diff(want, brief(p)); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	if len(p.Refusals) != 0 {
		t.Fatalf("refusals %v", summaries(p.Refusals))
	}
	w := p.Steps[7]
	for _, k := range []string{"feature-gates: CompactHashCheck=true,InitialCorruptCheck=true\n", "compact-hash-check-time: 60000000000\n"} {
		if !strings.Contains(string(w.Config), k) {
			t.Errorf("the file written for 3.6 lacks %q:\n%s", k, w.Config)
		}
	}
	if strings.Contains(string(w.Config), "experimental-") {
		t.Errorf("the file written for 3.6 holds an experimental key:\n%s", w.Config)
	}
	wantChanges := []Change{
		{Attr: "compact-hash-check-time", After: "60000000000"},
		{Attr: "experimental-compact-hash-check-enabled", Before: "true"},
		{Attr: "experimental-compact-hash-check-time", Before: "60000000000"},
		{Attr: "experimental-initial-corrupt-check", Before: "true"},
		{Attr: "feature-gates", After: "CompactHashCheck=true,InitialCorruptCheck=true"},
	}
	if diff := cmp.Diff(wantChanges, w.Changes); diff != "" {
		t.Errorf("write-config changes (-want +got):\n%s", diff)
	}
	// The restart that follows names the version and the key changes.
	if up := p.Steps[8]; up.Changes[0] != (Change{Attr: "version", Before: "3.5.35", After: "3.6.16"}) || len(up.Changes) != 6 {
		t.Errorf("upgrade-member changes %+v", up.Changes)
	}

	// After the apply: 3.6.16 everywhere, files for 3.6: nothing to do.
	hostsRenderedFor(t, c, oc, "3.6.16")
	if p := Make(config(c), observed(oc), Options{}); len(p.Steps) != 0 || len(p.Refusals) != 0 {
		t.Errorf("second plan: %v, refusals %v", brief(p), summaries(p.Refusals))
	}

	// A 3.5 cluster that stays on 3.5 keeps its experimental keys.
	c, oc = upgradeLab("3.5.35", "3.5.35")
	withChecks(c)
	hostsRenderedFor(t, c, oc, "3.5.35")
	if p := Make(config(c), observed(oc), Options{}); len(p.Steps) != 0 || len(p.Refusals) != 0 {
		t.Errorf("a 3.5 cluster: %v, refusals %v", brief(p), summaries(p.Refusals))
	}
	// Without an install block the binary stays: its file stays for it.
	c, oc = upgradeLab("3.5.35", "3.6.16")
	c.Install = nil
	withChecks(c)
	hostsRenderedFor(t, c, oc, "3.5.35")
	if p := Make(config(c), observed(oc), Options{}); len(p.Steps) != 0 || len(p.Refusals) != 0 {
		t.Errorf("without install: %v, refusals %v", brief(p), summaries(p.Refusals))
	}
}

// TestUpgradeTo37RewritesOwnedExperimentalKeys: 3.7 ignores experimental-*
// keys (the check they carried would be off). A key etcdform owns is
// rewritten to its 3.7 form in the member's restart onto 3.7; one it does
// not own is still a refusal.
func TestUpgradeTo37RewritesOwnedExperimentalKeys(t *testing.T) {
	c, oc := upgradeLab("3.6.16", "3.7.3")
	c.CorruptionCheck = &schema.CorruptionCheck{Initial: true}
	hostsRenderedFor(t, c, oc, "3.6.16")
	// etcd-2's file was written by hand with the deprecated key, which
	// 3.6 still reads.
	h := oc.Hosts["etcd-2"]
	h.Config.FeatureGates, h.Config.ExperimentalInitialCorruptCheck = "", true
	p := Make(config(c), observed(oc), Options{})
	if len(p.Refusals) != 0 {
		t.Fatalf("refusals %+v", p.Refusals)
	}
	var wrote []string
	for i, s := range p.Steps {
		if s.Action != WriteConfig {
			continue
		}
		wrote = append(wrote, s.Member)
		if next := p.Steps[i+1]; next.Action != UpgradeMember || next.Member != s.Member {
			t.Errorf("write-config %s is followed by %s %s", s.Member, next.Action, next.Member)
		}
		if strings.Contains(string(s.Config), "experimental-") || !strings.Contains(string(s.Config), "feature-gates: InitialCorruptCheck=true\n") {
			t.Errorf("file for 3.7:\n%s", s.Config)
		}
	}
	if !cmp.Equal(wrote, []string{"etcd-2"}) {
		t.Errorf("config writes for %v, want etcd-2's", wrote)
	}

	h.ConfigUnknown = []string{"experimental-memory-mlock"}
	p = Make(config(c), observed(oc), Options{})
	if len(p.Refusals) != 1 || p.Refusals[0].Summary != "Experimental config keys" || !strings.Contains(p.Refusals[0].Detail, "experimental-memory-mlock") {
		t.Errorf("refusals %+v", p.Refusals)
	}
}

// A version without a key for a declared check is a refusal naming it.
func TestCheckWithoutKeyRefused(t *testing.T) {
	c, oc := upgradeLab("3.5.4", "3.5.4")
	c.Install = nil
	c.EtcdVersion = ""
	withChecks(c)
	p := Make(config(c), observed(oc), Options{})
	if len(p.Refusals) == 0 || !strings.Contains(p.Refusals[0].Detail, "etcd 3.5.4 has no config key for the compact hash check") {
		t.Errorf("refusals %+v", p.Refusals)
	}
}

// Without a corruption_check block etcdform leaves the checks as each
// file has them (a check turned on by hand is not turned off), and only
// moves them to the keys of the version a member restarts on; a gate set
// by hand that carries no setting of etcdform's survives every write.
func TestChecksWithoutBlockKept(t *testing.T) {
	c, oc := upgradeLab("3.5.35", "3.5.35")
	hostsRenderedFor(t, c, oc, "3.5.35")
	for _, h := range oc.Hosts {
		h.Config.ExperimentalInitialCorruptCheck = true // turned on by hand
	}
	if p := Make(config(c), observed(oc), Options{}); len(p.Steps) != 0 || len(p.Refusals) != 0 {
		t.Fatalf("a hand-set check on 3.5: %v, refusals %v", brief(p), summaries(p.Refusals))
	}

	c, oc = upgradeLab("3.6.16", "3.7.3")
	hostsRenderedFor(t, c, oc, "3.6.16")
	for _, h := range oc.Hosts {
		h.Config.ExperimentalInitialCorruptCheck = true
		h.Config.FeatureGates = "StopGRPCServiceOnDefrag=true"
	}
	p := Make(config(c), observed(oc), Options{})
	if len(p.Refusals) != 0 {
		t.Fatalf("refusals %+v", p.Refusals)
	}
	writes := 0
	for _, s := range p.Steps {
		if s.Action != WriteConfig {
			continue
		}
		writes++
		if strings.Contains(string(s.Config), "experimental-") ||
			!strings.Contains(string(s.Config), "feature-gates: InitialCorruptCheck=true,StopGRPCServiceOnDefrag=true\n") {
			t.Errorf("file for 3.7 of %s:\n%s", s.Member, s.Config)
		}
	}
	if writes != 3 {
		t.Errorf("steps %v: want a write per member", brief(p))
	}
}

// Without a metrics block or logging outputs, the host's metrics and
// log-outputs keys stay; with them, they are etcdform's.
func TestMetricsWithoutBlockKept(t *testing.T) {
	c, oc := upgradeLab("3.6.16", "3.6.16")
	for _, h := range oc.Hosts {
		h.Config.Metrics, h.Config.ListenMetricsURLs, h.Config.LogOutputs = "extensive", "http://127.0.0.1:2381", []string{"stdout"}
	}
	if p := Make(config(c), observed(oc), Options{}); len(p.Steps) != 0 || len(p.Refusals) != 0 {
		t.Fatalf("hand-set metrics without a block: %v, refusals %v", brief(p), summaries(p.Refusals))
	}
	c.Metrics = &schema.Metrics{Level: "basic"}
	c.Logging.Outputs = []string{"stderr"}
	p := Make(config(c), observed(oc), Options{})
	var attrs []string
	for _, ch := range p.Steps[1].Changes {
		attrs = append(attrs, ch.Attr)
	}
	if p.Steps[1].Action != WriteConfig || !cmp.Equal(attrs, []string{"listen-metrics-urls", "log-outputs", "metrics"}) {
		t.Errorf("with the blocks: %v, changes %v", brief(p), attrs)
	}
}
