package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
)

// upgradeBenchFrom and upgradeBenchTo are the rolling upgrade the bench
// times: one minor, with no v2 store check (3.5 to 3.6 adds one per member).
const (
	upgradeBenchFrom = "3.6.16"
	upgradeBenchTo   = "3.7.3"
)

// BenchmarkRollingUpgrade (issue 17 bench) upgrades a 3-member lab from
// 3.6.16 to 3.7.3 under a steady write load (one writer per endpoint, up
// to 200 writes/s offered each), twice, each on a fresh lab:
//
//   - physical-limit: by hand, one member at a time (leadership moved away
//     first, untimed): put the new binary in place (a copy next to it and a
//     rename), restart the service and wait until the member answers
//     /health; the sum of those times;
//   - etcdform-apply: `etcdform apply` of the plan for etcd_version =
//     "3.7.3", from start to exit (lock, checks, snapshot, staging over
//     SSH, the rolling upgrade-member steps with their gates, the wait for
//     the cluster version, HashKV, the audit record).
//
// It prints, with units: both wall times, their ratio (goal <= 1.2), the
// longest time without an acknowledged write in each (goal < 1 s), p99
// write latency, rates, failed writes, and the load average before and
// after each part (the machine may be shared: read the ratio with it).
func BenchmarkRollingUpgrade(b *testing.B) {
	var physical, apply time.Duration
	b.Run("physical-limit", func(b *testing.B) {
		st := labtest.Up(b, lab.Options{Members: 3, EtcdVersion: upgradeBenchFrom})
		bins, err := etcdbin.Ensure(context.Background(), upgradeBenchTo, nil)
		if err != nil {
			b.Fatal(err)
		}
		ec, err := etcdp.New(endpoints(st))
		if err != nil {
			b.Fatal(err)
		}
		defer ec.Close()
		la := loadAvg()
		l := startStallLoad(b, st, "/bench/upgrade-physical")
		var per []time.Duration
		for _, h := range st.Members() {
			moveLeaderFrom(b, ec, h.Name)
			t0 := time.Now()
			swapBinary(b, bins.Etcd, h.Path(lab.EtcdBinary))
			if _, code := run(b, "ssh", labtest.SSHArgs(st, h.Addr, "sv -w 60 restart etcd")...); code != 0 {
				b.Fatalf("restart %s failed", h.Name)
			}
			waitHealthy(b, h)
			d := time.Since(t0)
			per = append(per, d)
			physical += d
			waitGate(b, st)
		}
		gap, p99, rate, failed := l.finish()
		report(b, "physical-limit", physical, gap, p99, rate, failed, la)
		fmt.Printf("  per member (swap, restart, healthy): %v\n", roundAll(per))
	})
	b.Run("etcdform-apply", func(b *testing.B) {
		st := labtest.Up(b, lab.Options{Members: 3, EtcdVersion: upgradeBenchFrom})
		pf := filepath.Join(b.TempDir(), "upgrade.plan")
		dir := labtest.ConfigDir(b, st, func(s string) string {
			return strings.Replace(s, fmt.Sprintf("etcd_version = %q", upgradeBenchFrom), fmt.Sprintf("etcd_version = %q", upgradeBenchTo), 1)
		})
		if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, dir); code != 2 {
			b.Fatalf("plan: exit %d", code)
		}
		la := loadAvg()
		audit := filepath.Join(b.TempDir(), "audit.jsonl")
		l := startStallLoad(b, st, "/bench/upgrade-apply")
		wall, code := run(b, binary, "apply", "--auto-approve", "--snapshot-dir", b.TempDir(), "--audit-log", audit, pf)
		gap, p99, rate, failed := l.finish()
		if code != 0 {
			b.Fatalf("apply: exit %d", code)
		}
		apply = wall
		report(b, "etcdform-apply", wall, gap, p99, rate, failed, la)
		printSteps(b, audit, wall)
	})
	if physical > 0 && apply > 0 {
		r := float64(apply) / float64(physical)
		b.ReportMetric(r, "apply/physical")
		fmt.Printf("rolling upgrade %s -> %s, 3 members: apply %.1f s / physical limit %.1f s = %.2f (goal <= 1.2); load average now %s\n",
			upgradeBenchFrom, upgradeBenchTo, apply.Seconds(), physical.Seconds(), r, loadAvg())
	}
}

// printSteps prints where the apply's time went: each step's duration
// from the audit file, and the time outside the steps (lock, re-observe,
// the plan's re-derivation, HashKV, the audit record).
func printSteps(b *testing.B, audit string, wall time.Duration) {
	data, err := os.ReadFile(audit)
	if err != nil {
		b.Fatal(err)
	}
	var inSteps time.Duration
	var parts []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct {
			Kind, Action, Member string
			Start, End           time.Time
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Kind != "step" {
			continue
		}
		d := e.End.Sub(e.Start)
		inSteps += d
		parts = append(parts, fmt.Sprintf("%s %s %.1fs", e.Action, e.Member, d.Seconds()))
	}
	fmt.Printf("  apply's steps: %s; outside the steps %.1f s\n", strings.Join(parts, ", "), (wall - inSteps).Seconds())
}

// report prints and reports one part's figures.
func report(b *testing.B, name string, wall, gap, p99 time.Duration, rate float64, failed int, loadBefore string) {
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(ms(gap), "max-gap-ms")
	b.ReportMetric(ms(p99), "p99-write-ms")
	b.ReportMetric(rate, "acked-writes/s")
	fmt.Printf("%-15s wall %6.1f s   max gap between acknowledged writes %7.1f ms (goal < 1000 ms)   p99 write %6.1f ms   %5.0f acked writes/s   failed writes %d   load average %s before, %s after\n",
		name, wall.Seconds(), ms(gap), ms(p99), rate, failed, loadBefore, loadAvg())
}

// swapBinary puts src in place of dst on a lab host's file system: a copy
// next to dst, then a rename (atomic), as an operator's script would.
func swapBinary(b *testing.B, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	tmp := dst + ".bench-new"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		b.Fatal(err)
	}
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
