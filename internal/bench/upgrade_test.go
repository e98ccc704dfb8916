package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	"github.com/etcdform/etcdform/plan/model"
	"github.com/etcdform/etcdform/plan/planfile"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
	sshp "github.com/etcdform/etcdform/providers/ssh"
	"github.com/etcdform/etcdform/schema"
)

// upgradeBenchFrom and upgradeBenchTo are the rolling upgrade the bench
// times: one minor, with no v2 store check (3.5 to 3.6 adds one per member).
const (
	upgradeBenchFrom = "3.6.16"
	upgradeBenchTo   = "3.7.3"
)

// upgradeGapReport is the shortest gap between acknowledged writes the
// bench prints with where it fell.
const upgradeGapReport = 300 * time.Millisecond

// BenchmarkRollingUpgrade (issue 17 bench) upgrades a 3-member lab from
// 3.6.16 to 3.7.3 under a steady write load (one writer per endpoint, up
// to 200 writes/s offered each), twice, each on a fresh lab:
//
//   - physical-limit: by hand, one member at a time, in the order apply
//     takes them (followers first, the leader last; leadership moved away
//     first, untimed): put the new etcd and etcdutl in place (a copy next
//     to each and a rename), restart the service through the same service
//     manager call apply makes (over a kept SSH connection), and wait until
//     the member answers /health; the sum of those times;
//   - etcdform-apply: `etcdform apply` of the plan for etcd_version =
//     "3.7.3", from start to exit (lock, checks, snapshot, staging over
//     SSH, the rolling upgrade-member steps with their gates, the wait for
//     the cluster version, HashKV, the audit record).
//
// It prints, with units: both wall times, their ratio (goal <= 1.2), the
// longest time without an acknowledged write in each (goal < 1 s) and every
// gap over upgradeGapReport with what ran then, p99 write latency, rates,
// failed writes, the load average before and after each part (the machine
// may be shared: read the ratio with it), each member's part of the limit,
// and where apply's time went (its steps, and the phases of each member's
// upgrade from its progress). On the limit's lab it also measures the two
// things the upgrade needs that the limit leaves out: the release's bytes
// sent to every host (uploadFloor) and etcd's delay in raising the cluster
// version after the last member (waitClusterVersion); their sum with the
// limit is the least an apply of these steps can take.
func BenchmarkRollingUpgrade(b *testing.B) {
	var physical, apply, upload, versionDelay time.Duration
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
		ctx := context.Background()
		p, cfg := upgradePlan(b, st, filepath.Join(b.TempDir(), "upgrade.plan"))
		var steps []model.Step
		for _, s := range p.Steps {
			if s.Action == model.UpgradeMember {
				steps = append(steps, s)
			}
		}
		hosts := hostsOf(b, ctx, cfg, steps)
		upload = uploadFloor(b, st, bins.Etcd, bins.Etcdutl)
		la := loadAvg()
		l := startStallLoad(b, st, "/bench/upgrade-physical")
		var per []string
		var spans []auditStep // what ran when, for the gaps
		for i, s := range steps {
			h, err := st.Host(s.Member)
			if err != nil {
				b.Fatal(err)
			}
			tm := time.Now()
			moveLeaderFrom(b, ec, h.Name)
			t0 := time.Now()
			spans = append(spans, auditStep{Action: "move-leader-away-from", Member: h.Name, Start: tm, End: t0})
			labtest.SwapBinary(b, bins.Etcd, h.Path(lab.EtcdBinary))
			labtest.SwapBinary(b, bins.Etcdutl, h.Path(filepath.Join(filepath.Dir(lab.EtcdBinary), "etcdutl")))
			t1 := time.Now()
			if err := hosts[i].Restart(ctx); err != nil {
				b.Fatalf("restart %s: %v", h.Name, err)
			}
			t2 := time.Now()
			waitHealthy(b, *h)
			d := time.Since(t0)
			physical += d
			per = append(per, fmt.Sprintf("%s %.2f s (swap %.2f, restart %.2f, /health %.2f)", h.Name, d.Seconds(), t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), time.Since(t2).Seconds()))
			spans = append(spans, auditStep{Action: "swap-restart-healthy", Member: h.Name, Start: t0, End: time.Now()})
			tg := time.Now()
			waitGate(b, st)
			spans = append(spans, auditStep{Action: "wait-all-healthy", Member: "(untimed)", Start: tg, End: time.Now()})
		}
		versionDelay = waitClusterVersion(b, ec, upgradeBenchTo)
		gap, p99, rate, failed := l.finish()
		report(b, "physical-limit", physical, gap, p99, rate, failed, la)
		fmt.Printf("  per member (swap, restart, healthy), in apply's order: %s\n", strings.Join(per, "; "))
		printGaps(l, spans)
	})
	b.Run("etcdform-apply", func(b *testing.B) {
		st := labtest.Up(b, lab.Options{Members: 3, EtcdVersion: upgradeBenchFrom})
		pf := filepath.Join(b.TempDir(), "upgrade.plan")
		upgradePlan(b, st, pf)
		la := loadAvg()
		audit := filepath.Join(b.TempDir(), "audit.jsonl")
		l := startStallLoad(b, st, "/bench/upgrade-apply")
		wall, code, out := runOutput(b, binary, "apply", "--auto-approve", "--snapshot-dir", b.TempDir(), "--audit-log", audit, pf)
		gap, p99, rate, failed := l.finish()
		if code != 0 {
			b.Fatalf("apply: exit %d\n%s", code, out)
		}
		apply = wall
		report(b, "etcdform-apply", wall, gap, p99, rate, failed, la)
		steps := auditSteps(b, audit)
		printSteps(steps, wall)
		printPhases(out, "stage-binary", "upgrade-member", "wait-cluster-version")
		printGaps(l, steps)
	})
	if physical > 0 && apply > 0 {
		r := float64(apply) / float64(physical)
		b.ReportMetric(r, "apply/physical")
		fmt.Printf("rolling upgrade %s -> %s, 3 members: apply %.1f s / physical limit %.1f s = %.2f (goal <= 1.2); load average now %s\n",
			upgradeBenchFrom, upgradeBenchTo, apply.Seconds(), physical.Seconds(), r, loadAvg())
		floor := physical + upload + versionDelay
		b.ReportMetric(float64(floor)/float64(physical), "floor/physical")
		fmt.Printf("  the limit leaves out two things the upgrade's own steps need, measured by hand on the limit's lab: the release on every host (%.2f s: its bytes through one SSH session per host into /dev/null, all at once; no write, no fsync, no hash) and etcd raising the cluster version after the last member runs the new one (%.2f s: the leader's version monitor, at the first commit of a term and every 4 s); limit plus those: %.1f s = %.2f of the limit (the goal allows %.1f s)\n",
			upload.Seconds(), versionDelay.Seconds(), floor.Seconds(), float64(floor)/float64(physical), 1.2*physical.Seconds())
	}
}

// upgradePlan plans, through the CLI, the upgrade of st to upgradeBenchTo
// into the plan file pf (untimed), and returns the plan with its
// configuration.
func upgradePlan(b *testing.B, st *lab.State, pf string) (*model.Plan, *schema.Config) {
	dir := labtest.ConfigDir(b, st, func(s string) string {
		return strings.Replace(s, fmt.Sprintf("etcd_version = %q", upgradeBenchFrom), fmt.Sprintf("etcd_version = %q", upgradeBenchTo), 1)
	})
	if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, dir); code != 2 {
		b.Fatalf("plan: exit %d", code)
	}
	p, err := planfile.ReadFile(pf)
	if err != nil {
		b.Fatal(err)
	}
	cfg, diags := schema.Load(dir, schema.LoadOptions{Getenv: os.Getenv})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return p, cfg
}

// runOutput is run, returning the command's output too.
func runOutput(b *testing.B, name string, args ...string) (time.Duration, int, string) {
	b.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return d, code, out.String()
}

// auditStep is one step's entry in apply's audit file.
type auditStep struct {
	Kind, Action, Member string
	Start, End           time.Time
}

func auditSteps(b *testing.B, audit string) []auditStep {
	data, err := os.ReadFile(audit)
	if err != nil {
		b.Fatal(err)
	}
	var out []auditStep
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e auditStep
		if json.Unmarshal([]byte(line), &e) == nil && e.Kind == "step" {
			out = append(out, e)
		}
	}
	return out
}

// printSteps prints where the apply's time went: each step's duration
// from the audit file, and the time outside the steps (lock, re-observe,
// the plan's re-derivation, HashKV, the audit record). Steps that ran at
// the same time count once.
func printSteps(steps []auditStep, wall time.Duration) {
	var inSteps time.Duration
	var last time.Time
	var parts []string
	for _, e := range steps {
		parts = append(parts, fmt.Sprintf("%s %s %.1fs", e.Action, e.Member, e.End.Sub(e.Start).Seconds()))
		from := e.Start
		if from.Before(last) {
			from = last
		}
		if e.End.After(from) {
			inSteps += e.End.Sub(from)
			last = e.End
		}
	}
	fmt.Printf("  apply's steps: %s; outside the steps %.1f s\n", strings.Join(parts, ", "), (wall - inSteps).Seconds())
}

// progressLine is a line of apply's progress: "[lab] step 5/8
// upgrade-member etcd-2: restarting (12.3s)", or "[lab] checking plan
// (0.1s)" before the steps.
var progressLine = regexp.MustCompile(`^\[[^]]+\] (?:step (\d+)/\d+ (\S+) (\S+): )?(.*) \(([0-9.hmsµ]+)\)`)

// printPhases prints, before the first step and for each step of one of
// actions, the time from each of its progress events to its next one
// (at the progress' 100 ms resolution; phases under 0.1 s are left out).
func printPhases(out string, actions ...string) {
	type event struct {
		step         int // 0 before the steps
		action, what string
		member       string
		at           time.Duration
	}
	var evs []event
	for _, line := range strings.Split(out, "\n") {
		m := progressLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		at, err := time.ParseDuration(m[5])
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		evs = append(evs, event{n, m[2], phaseName(m[4]), m[3], at})
	}
	var order []int
	parts := map[int][]string{}
	for i, e := range evs {
		if e.step != 0 && !slices.Contains(actions, e.action) {
			continue
		}
		// The step's next event (a step's wait for its clients comes
		// during the next one's); before the steps, the next of apply.
		next := slices.IndexFunc(evs[i+1:], func(f event) bool { return f.step == e.step })
		if next < 0 && e.step == 0 && i+1 < len(evs) {
			next = 0
		}
		if next < 0 {
			continue
		}
		if d := evs[i+1+next].at - e.at; d > 0 {
			if _, ok := parts[e.step]; !ok {
				order = append(order, e.step)
			}
			parts[e.step] = append(parts[e.step], fmt.Sprintf("%s %.1f", e.what, d.Seconds()))
		}
	}
	for _, n := range order {
		what := "before the steps"
		for _, e := range evs {
			if e.step == n && n != 0 {
				what = fmt.Sprintf("step %d %s %s", n, e.action, e.member)
				break
			}
		}
		fmt.Printf("  %s, s from each phase to the next: %s\n", what, strings.Join(parts[n], ", "))
	}
}

// phaseName is a progress phase without its figures: "clients back" of
// "clients back (3 connections, 3 before the restart)", "moving
// leadership to" of "moving leadership to 8e9e05c52164694d".
func phaseName(p string) string {
	if i := strings.IndexAny(p, "(,;"); i >= 0 {
		p = p[:i]
	}
	var words []string
	for _, w := range strings.Fields(p) {
		if !strings.ContainsAny(w, "0123456789") {
			words = append(words, w)
		}
	}
	if len(words) > 0 && words[0] == "of" { // "2 of 3 client connections back ...; going on"
		return "not every client back"
	}
	return strings.Join(words, " ")
}

// printGaps prints every gap between acknowledged writes over
// upgradeGapReport, from the start of the load, with the steps (of apply,
// or of the physical limit) it overlapped.
func printGaps(l *stallLoad, steps []auditStep) {
	for _, g := range l.gaps(upgradeGapReport) {
		to := g.from.Add(g.len)
		var during []string
		for _, e := range steps {
			if e.Start.Before(to) && e.End.After(g.from) {
				during = append(during, e.Action+" "+e.Member)
			}
		}
		where := ", outside the steps"
		if len(during) > 0 {
			where = ", during " + strings.Join(during, ", ")
		}
		fmt.Printf("  gap %.0f ms at %.1f s%s\n", ms(g.len), g.from.Sub(l.start).Seconds(), where)
	}
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

// uploadFloor returns the time to send the bytes of files (a release's
// binaries) to every host of st at once, each through one SSH session into
// /dev/null: the least any staging of them can take on this lab.
func uploadFloor(b *testing.B, st *lab.State, files ...string) time.Duration {
	b.Helper()
	var data [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
	}
	var clients []*sshp.Client
	for _, h := range st.Hosts {
		c, err := dialHost(st, h)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	t0 := time.Now()
	errs := make(chan error, len(clients))
	for _, c := range clients {
		go func() {
			var rs []io.Reader
			for _, d := range data {
				rs = append(rs, bytes.NewReader(d))
			}
			_, errb, code, err := c.RunStdin(context.Background(), "cat > /dev/null", io.MultiReader(rs...))
			if err == nil && code != 0 {
				err = fmt.Errorf("%s: exit %d: %s", c.Addr(), code, errb)
			}
			errs <- err
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0)
}

// waitClusterVersion returns how long, from now, the cluster version takes
// to reach the minor of version.
func waitClusterVersion(b *testing.B, ec *etcdp.Client, version string) time.Duration {
	b.Helper()
	want := version[:strings.LastIndex(version, ".")] + ".0"
	t0 := time.Now()
	deadline := t0.Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		v, err := ec.Versions(ctx)
		cancel()
		if err == nil && v.Cluster == want {
			return time.Since(t0)
		}
		if time.Now().After(deadline) {
			b.Fatalf("cluster version %q (%v), not %s after 30 s", v.Cluster, err, want)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of the wait
	}
}
