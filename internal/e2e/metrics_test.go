package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// metricsPort is where the tests' metrics listeners bind, on each
// member's own address.
const metricsPort = 2381

// withObservability adds the metrics, logging and corruption_check blocks
// (issue 18 part 2) to the cluster, the metrics URL a template over the
// member's host.
func withObservability(initial, compactHash bool, period string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "  service {", fmt.Sprintf(`  metrics {
    listen_urls = ["http://${member.host}:%d"]
    level       = "extensive"
  }

  logging {
    level   = "info"
    outputs = ["stderr"]
  }

  corruption_check {
    initial             = %v
    compact_hash        = %v
    compact_hash_period = %q
  }

  service {`, metricsPort, initial, compactHash, period), 1)
	}
}

// metricsURL is member h's metrics URL as withObservability declares it.
func metricsURL(h lab.Host) string { return fmt.Sprintf("http://%s:%d/metrics", h.Addr, metricsPort) }

// scrape GETs url and returns the status code and body.
func scrape(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// configOf reads member h's etcd config file from the lab's disk.
func configOf(t *testing.T, h lab.Host) string {
	t.Helper()
	b, err := os.ReadFile(h.Path(lab.EtcdConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// etcdLog reads member h's etcd log (stderr, appended to by every start).
func etcdLog(t *testing.T, h lab.Host) string {
	t.Helper()
	b, err := os.ReadFile(h.Path("/var/log/etcd/etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkObservability checks, on every member, that the metrics URL
// answers GET /metrics with etcd_server_has_leader 1 (and, with want36,
// etcd_server_feature_enabled 1 for both corruption checks, a metric etcd
// has from 3.6 on), that its config file holds want, and that the etcd
// that started last logged the initial corruption check.
func checkObservability(t *testing.T, st *lab.State, want []string, want36 bool, logsBefore map[string]int) {
	t.Helper()
	for _, h := range st.Members() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		var body string
		labtest.Eventually(t, 20*time.Second, func() error {
			code, b, err := scrape(ctx, metricsURL(h))
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("GET %s: %d", metricsURL(h), code)
			}
			if !strings.Contains(b, "\netcd_server_has_leader 1\n") {
				return fmt.Errorf("GET %s: no etcd_server_has_leader 1", metricsURL(h))
			}
			body = b
			return nil
		})
		cancel()
		for _, gate := range []string{"InitialCorruptCheck", "CompactHashCheck"} {
			line := fmt.Sprintf("etcd_server_feature_enabled{name=%q,stage=\"ALPHA\"} 1\n", gate)
			if got := strings.Contains(body, line); got != want36 {
				t.Errorf("%s: /metrics has %q: %v, want %v", h.Name, strings.TrimSpace(line), got, want36)
			}
		}
		cfg := configOf(t, h)
		for _, w := range want {
			w = strings.ReplaceAll(w, "ADDR", h.Addr)
			if !strings.Contains(cfg, w) {
				t.Errorf("%s: the config file lacks %q:\n%s", h.Name, w, cfg)
			}
		}
		// The log of the start the apply made, after what was there.
		log := etcdLog(t, h)[logsBefore[h.Name]:]
		if !strings.Contains(log, "starting initial corruption check") {
			t.Errorf("%s: etcd did not log its initial corruption check since the apply", h.Name)
		}
	}
}

// logSizes records how long each member's etcd log is now.
func logSizes(t *testing.T, st *lab.State) map[string]int {
	out := map[string]int{}
	for _, h := range st.Members() {
		out[h.Name] = len(etcdLog(t, h))
	}
	return out
}

// TestMetricsE2E (issue 18, acceptance Metrics): metrics, logging and
// corruption checks declared in the HCL of a 3.6 lab plan a config write
// and a restart per member; applied, every member's metrics URL answers
// GET /metrics with etcd_server_has_leader, the corruption checks run as
// feature gates (etcd_server_feature_enabled, the initial check in the
// log), each config file holds the 3.6 keys, and a second plan is empty.
func TestMetricsE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	// Nothing listens there before.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	if _, _, err := scrape(ctx, metricsURL(st.Members()[0])); err == nil {
		t.Fatalf("%s answers before the apply", metricsURL(st.Members()[0]))
	}
	cancel()
	dir := config(t, st, withObservability(true, true, "30s"))
	p, code := planAsJSON(t, dir)
	if code != 2 || len(p.Refusals) != 0 {
		t.Fatalf("plan: exit %d, refusals %+v", code, p.Refusals)
	}
	writes := 0
	for _, s := range p.Steps {
		if s.Action != "write-config" {
			continue
		}
		writes++
		got := map[string]string{}
		for _, c := range s.Changes {
			got[c.Attr] = c.After
		}
		for k, v := range map[string]string{"feature-gates": "CompactHashCheck=true,InitialCorruptCheck=true",
			"compact-hash-check-time": "30000000000", "metrics": "extensive", "log-outputs": "[stderr]"} {
			if got[k] != v {
				t.Errorf("write-config %s: %s = %q, want %q (changes %+v)", s.Member, k, got[k], v, s.Changes)
			}
		}
	}
	if writes != 3 {
		t.Fatalf("steps %v: want a write-config per member", actions(p))
	}
	before := logSizes(t, st)
	if _, _, code := cli(t, applyArgs(t, dir)...); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	checkObservability(t, st, []string{
		"feature-gates: CompactHashCheck=true,InitialCorruptCheck=true\n",
		"compact-hash-check-time: 30000000000\n",
		"listen-metrics-urls: http://ADDR:2381\n",
		"metrics: extensive\n",
		"log-outputs:\n- stderr\n",
	}, true, before)
	for _, h := range st.Members() {
		if cfg := configOf(t, h); strings.Contains(cfg, "experimental-") {
			t.Errorf("%s: a 3.6 config file holds an experimental key:\n%s", h.Name, cfg)
		}
	}
	if _, code := planAsJSON(t, dir); code != 0 {
		t.Errorf("second plan: exit %d, want 0 (no changes)", code)
	}
}

// TestMetrics35E2E (issue 18 Metrics, issue 17 Config keys by version): on
// a 3.5 lab the same blocks render as 3.5's experimental-* keys, which
// 3.5 starts with (the initial check in its log, /metrics answering);
// then etcd_version = 3.6.16 rewrites them as feature gates in each
// member's own restart onto 3.6 (write-config right before its
// upgrade-member), after which the gates show enabled and a second plan
// is empty.
func TestMetrics35E2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3, EtcdVersion: upgradeFrom})
	dir := config(t, st, withObservability(true, true, "30s"))
	before := logSizes(t, st)
	if _, _, code := cli(t, applyArgs(t, dir)...); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	checkObservability(t, st, []string{
		"experimental-initial-corrupt-check: true\n",
		"experimental-compact-hash-check-enabled: true\n",
		"experimental-compact-hash-check-time: 30000000000\n",
		"listen-metrics-urls: http://ADDR:2381\n",
	}, false, before)
	for _, h := range st.Members() {
		if cfg := configOf(t, h); strings.Contains(cfg, "feature-gates") {
			t.Errorf("%s: a 3.5 config file holds feature-gates:\n%s", h.Name, cfg)
		}
	}
	if _, code := planAsJSON(t, dir); code != 0 {
		t.Fatalf("second plan on 3.5: exit %d, want 0", code)
	}

	// The upgrade rewrites the keys in the same rolling restart.
	up := config(t, st, func(s string) string {
		return withObservability(true, true, "30s")(withVersion(upgradeFrom, "3.6.16")(s))
	})
	p, code := planAsJSON(t, up)
	if code != 2 || len(p.Refusals) != 0 {
		t.Fatalf("upgrade plan: exit %d, refusals %+v", code, p.Refusals)
	}
	upgrades := 0
	for i, s := range p.Steps {
		if s.Action != "upgrade-member" {
			continue
		}
		upgrades++
		prev := p.Steps[i-1]
		if prev.Action != "write-config" || prev.Member != s.Member {
			t.Fatalf("steps %v: upgrade-member %s is not right after its write-config", actions(p), s.Member)
		}
		got := map[string][2]string{}
		for _, c := range prev.Changes {
			got[c.Attr] = [2]string{c.Before, c.After}
		}
		if got["experimental-initial-corrupt-check"] != [2]string{"true", ""} ||
			got["feature-gates"] != [2]string{"", "CompactHashCheck=true,InitialCorruptCheck=true"} ||
			got["compact-hash-check-time"] != [2]string{"", "30000000000"} {
			t.Errorf("write-config %s changes %+v", prev.Member, prev.Changes)
		}
	}
	if upgrades != 3 {
		t.Fatalf("upgrade plan %v: want an upgrade-member per member", actions(p))
	}
	before = logSizes(t, st)
	if _, _, code := cli(t, applyArgs(t, up)...); code != 0 {
		t.Fatalf("upgrade apply: exit %d", code)
	}
	checkObservability(t, st, []string{
		"feature-gates: CompactHashCheck=true,InitialCorruptCheck=true\n",
		"compact-hash-check-time: 30000000000\n",
	}, true, before)
	for _, h := range st.Members() {
		if cfg := configOf(t, h); strings.Contains(cfg, "experimental-") {
			t.Errorf("%s: after the upgrade the config file holds an experimental key:\n%s", h.Name, cfg)
		}
	}
	if _, code := planAsJSON(t, up); code != 0 {
		t.Errorf("second plan after the upgrade: exit %d, want 0", code)
	}
}

// TestCompactHashCheckRaisesCorruptE2E (issue 18, acceptance Corruption):
// a CORRUPT alarm that etcd itself raises is a refusal. The compact hash
// check is turned on through the HCL; then a follower's data is changed
// behind etcd's back (a value rewritten in its bbolt file while it is
// stopped), a compaction records each member's hash, and the leader's
// check finds the follower's differ and raises CORRUPT for it. The plan
// then refuses, naming it.
func TestCompactHashCheckRaisesCorruptE2E(t *testing.T) {
	st := labtest.Up(t, lab.Options{Members: 3})
	dir := config(t, st, withObservability(false, true, "1s"))
	if _, _, code := cli(t, applyArgs(t, dir)...); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	c := etcdClient(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const good, bad = "canary-value-good", "canary-value-bad!"
	if _, err := c.Put(ctx, "canary", good); err != nil {
		t.Fatal(err)
	}
	leader := leaderName(t, st)
	var victim lab.Host
	for _, h := range st.Members() {
		if h.Name != leader {
			victim = h
			break
		}
	}
	// Wait until the victim applied the put, stop it, rewrite the value.
	labtest.Eventually(t, 10*time.Second, func() error {
		r, err := c.Get(ctx, "canary", clientv3.WithSerializable())
		if err != nil || len(r.Kvs) != 1 {
			return fmt.Errorf("%v", err)
		}
		s, err := c.Status(ctx, victim.ClientURL())
		if err != nil || s.RaftAppliedIndex < s.RaftIndex {
			return fmt.Errorf("%s not caught up: %v", victim.Name, err)
		}
		return nil
	})
	if err := st.Fault(ctx, lab.FaultStop, victim.Name); err != nil {
		t.Fatal(err)
	}
	corruptValue(t, filepath.Join(victim.Path(lab.EtcdDataDir), "member", "snap", "db"), good, bad)
	if err := st.Fault(ctx, lab.FaultStart, victim.Name); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 30*time.Second, func() error {
		_, err := c.Status(ctx, victim.ClientURL())
		return err
	})
	// The victim serves the changed value: the damage is real.
	vc, err := clientv3.New(clientv3.Config{Endpoints: []string{victim.ClientURL()}, DialTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	if r, err := vc.Get(ctx, "canary", clientv3.WithSerializable()); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != bad {
		t.Fatalf("the victim reads %v, %v; want the rewritten value", r, err)
	}
	// Before any compaction etcd has not noticed, and a risky plan (a
	// log level change: a config write and a restart per member) is
	// applicable; apply's own HashKV comparison stops it before its
	// first risky step, naming the victim's hash.
	risky := config(t, st, func(s string) string {
		return strings.Replace(withObservability(false, true, "1s")(s), `level   = "info"`, `level   = "warn"`, 1)
	})
	if p, code := planAsJSON(t, risky); code != 2 || len(p.Refusals) != 0 {
		t.Fatalf("risky plan: exit %d, refusals %+v", code, p.Refusals)
	}
	_, stderr, code := cli(t, applyArgs(t, risky)...)
	if code == 0 || !strings.Contains(stderr, "members' HashKV differ") || !strings.Contains(stderr, "ahead of the first risky step") ||
		!regexp.MustCompile(`[0-9a-f]{8} on `+regexp.QuoteMeta(victim.Name)+`[;.]`).MatchString(stderr) {
		t.Errorf("apply: exit %d, stderr %q; want it stopped by the HashKV comparison naming %s alone", code, stderr, victim.Name)
	}
	for _, h := range st.Members() {
		if cfg := configOf(t, h); !strings.Contains(cfg, "log-level: info\n") {
			t.Errorf("%s: the stopped apply changed its config:\n%s", h.Name, cfg)
		}
	}

	// A compaction makes every member hash its history up to it; the
	// leader's compact hash check (every 1s) compares the hashes.
	r, err := c.Put(ctx, "after", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(ctx, r.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	var victimID uint64
	for _, m := range memberList(t, st) {
		if m.Name == victim.Name {
			victimID = m.ID
		}
	}
	labtest.Eventually(t, 60*time.Second, func() error {
		al, err := c.AlarmList(ctx)
		if err != nil {
			return err
		}
		for _, a := range al.Alarms {
			if a.Alarm == etcdserverpb.AlarmType_CORRUPT && a.MemberID == victimID {
				return nil
			}
		}
		return fmt.Errorf("alarms %v: no CORRUPT for %s yet", al.Alarms, victim.Name)
	})
	var leaderLog string
	for _, h := range st.Members() {
		if h.Name == leader {
			leaderLog = etcdLog(t, h)
		}
	}
	if !strings.Contains(leaderLog, "Detected compaction hash mismatch") {
		t.Errorf("the leader's log does not say it detected the mismatch")
	}

	p, code := planAsJSON(t, dir)
	if code != 1 || p.Applicable || len(p.Steps) != 0 {
		t.Errorf("plan: exit %d, applicable %v, steps %v; want a refusal and no step", code, p.Applicable, actions(p))
	}
	found := false
	for _, r := range p.Refusals {
		found = found || r.Summary == "Data corruption alarm raised" && r.Member == victim.Name
	}
	if !found {
		t.Errorf("refusals %+v: none names the CORRUPT alarm of %s", p.Refusals, victim.Name)
	}
}

// corruptValue rewrites value from into to (the same length) in every
// revision of bbolt file db's key bucket: what a disk or a bug could do
// behind etcd's back.
func corruptValue(t *testing.T, db, from, to string) {
	t.Helper()
	if len(from) != len(to) {
		t.Fatal("corruptValue: lengths differ")
	}
	b, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	n := 0
	err = b.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte("key"))
		if bk == nil {
			return fmt.Errorf("no key bucket in %s", db)
		}
		type kv struct{ k, v []byte }
		var changed []kv
		if err := bk.ForEach(func(k, v []byte) error {
			if bytes.Contains(v, []byte(from)) {
				changed = append(changed, kv{append([]byte(nil), k...), bytes.ReplaceAll(v, []byte(from), []byte(to))})
			}
			return nil
		}); err != nil {
			return err
		}
		for _, x := range changed {
			if err := bk.Put(x.k, x.v); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("corrupting %s: %d revisions changed, %v", db, n, err)
	}
}
