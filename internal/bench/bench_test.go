// Package bench holds etcdform's end-to-end benchmarks (`make bench`). Each
// measures etcdform on a real lab and, in the same run, a baseline doing the
// same job the way a shell script would, and prints both with units.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
	etcdp "github.com/etcdform/etcdform/providers/etcd"
)

var binary string

func TestMain(m *testing.M) {
	labtest.ExitIfShort("bench")
	// ETCDFORM_BENCH_BINARY runs the benchmarks against another build
	// (an older commit's), to compare with this one.
	if b := os.Getenv("ETCDFORM_BENCH_BINARY"); b != "" {
		binary = b
		os.Exit(m.Run())
	}
	path, cleanup, err := labtest.BuildBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func run(b *testing.B, name string, args ...string) (time.Duration, int) {
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
	if code != 0 && code != 2 {
		b.Logf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out.String())
	}
	return d, code
}

// median is the middle value of xs (of an even count, the mean of the
// two middle ones).
func median[T ~int64 | ~float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[n/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkPlan5 times `etcdform plan` on a 5-member lab against a
// sequential shell baseline that gathers the same facts: ssh to each host
// to read its config file, and curl each member's /health.
func BenchmarkPlan5(b *testing.B) {
	st := labtest.Up(b, lab.Options{Members: 5})
	const runs = 7
	var planT, shellT []time.Duration
	for i := 0; i < runs; i++ {
		d, code := run(b, binary, "plan", "--detailed-exitcode", st.HCLFile())
		if code != 0 {
			b.Fatalf("plan on a fresh lab: exit %d", code)
		}
		planT = append(planT, d)
		t0 := time.Now()
		for _, h := range st.Members() {
			if _, code := run(b, "ssh", labtest.SSHArgs(st, h.Addr, "cat /etc/etcd/etcd.conf.yml")...); code != 0 {
				b.Fatalf("baseline ssh %s failed", h.Name)
			}
			if _, code := run(b, "curl", "-fsS", "--max-time", "2", h.ClientURL()+"/health"); code != 0 {
				b.Fatalf("baseline curl %s failed", h.Name)
			}
		}
		shellT = append(shellT, time.Since(t0))
	}
	pm, sm := median(planT), median(shellT)
	b.ReportMetric(ms(pm), "plan-ms")
	b.ReportMetric(ms(sm), "shell-baseline-ms")
	b.ReportMetric(float64(pm)/float64(sm), "plan/baseline")
	fmt.Printf("plan on a 5-member lab: median %.0f ms over %d runs; sequential ssh+curl baseline: median %.0f ms; ratio %.2f (goal: plan < 1000 ms, ratio <= 0.5)\n",
		ms(pm), runs, ms(sm), float64(pm)/float64(sm))
}

// load writes unique keys continuously and records latencies.
type load struct {
	cli     *clientv3.Client
	mu      sync.Mutex
	lat     []time.Duration
	acked   []string
	failed  int
	stop    chan struct{}
	done    chan struct{}
	counter int
	prefix  string
}

func startLoad(b *testing.B, st *lab.State, prefix string) *load {
	var eps []string
	for _, h := range st.Members() {
		eps = append(eps, h.ClientURL())
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	l := &load{cli: c, stop: make(chan struct{}), done: make(chan struct{}), prefix: prefix}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(5 * time.Millisecond) // 200 writes/s offered
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			l.counter++
			key := fmt.Sprintf("%s/%08d", prefix, l.counter)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			t0 := time.Now()
			_, err := c.Put(ctx, key, "v")
			d := time.Since(t0)
			cancel()
			l.mu.Lock()
			l.lat = append(l.lat, d)
			if err == nil {
				l.acked = append(l.acked, key)
			} else {
				l.failed++
			}
			l.mu.Unlock()
		}
	}()
	return l
}

// finish stops the load and returns max and p99 latency, failed and lost.
func (l *load) finish(b *testing.B) (maxLat, p99 time.Duration, failed, lost int) {
	close(l.stop)
	<-l.done
	defer l.cli.Close()
	lost = lostWrites(b, l.cli, l.prefix, l.acked)
	s := slices.Clone(l.lat)
	slices.Sort(s)
	return s[len(s)-1], s[len(s)*99/100], l.failed, lost
}

// lostWrites counts the acknowledged keys that a read of prefix does not
// find.
func lostWrites(b *testing.B, c *clientv3.Client, prefix string, acked []string) (lost int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, prefix+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		b.Fatal(err)
	}
	have := map[string]bool{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	for _, k := range acked {
		if !have[k] {
			lost++
		}
	}
	return lost
}

func waitHealthy(b *testing.B, h lab.Host) time.Duration {
	t0 := time.Now()
	for !lab.Healthy(context.Background(), h.ClientURL()) {
		if time.Since(t0) > 2*time.Minute {
			b.Fatalf("%s not healthy after 2m", h.Name)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	return time.Since(t0)
}

// BenchmarkRollingRestart compares, on a 3-member lab under a steady write
// load (200 writes/s offered): a rolling restart by `etcdform apply`; the
// physical limit (the sum of each member's own restart-to-healthy time,
// measured one member at a time); and a naive loop (ssh sv restart, then a
// fixed sleep), reporting wall time, max and p99 write latency, and failed
// and lost writes for each.
func BenchmarkRollingRestart(b *testing.B) {
	st := labtest.Up(b, lab.Options{Members: 3})
	report := func(name string, wall time.Duration, l *load) {
		maxLat, p99, failed, lost := l.finish(b)
		b.ReportMetric(wall.Seconds(), name+"-s")
		b.ReportMetric(ms(maxLat), name+"-max-write-ms")
		b.ReportMetric(ms(p99), name+"-p99-write-ms")
		b.ReportMetric(float64(lost), name+"-lost-writes")
		fmt.Printf("%-16s wall %6.1f s   max write latency %7.1f ms   p99 %6.1f ms   failed writes %d   lost writes %d\n",
			name, wall.Seconds(), ms(maxLat), ms(p99), failed, lost)
	}

	// 1. etcdform apply: a quota change, i.e. write config + restart x3.
	pf := filepath.Join(b.TempDir(), "q.plan")
	if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, labtest.ConfigDir(b, st, labtest.WithStorage("3GiB"))); code != 2 {
		b.Fatalf("plan: exit %d", code)
	}
	l := startLoad(b, st, "/bench/apply")
	wall, code := run(b, binary, "apply", "--auto-approve", "--snapshot-dir", b.TempDir(), pf)
	if code != 0 {
		b.Fatalf("apply: exit %d", code)
	}
	applyWall := wall
	report("etcdform-apply", wall, l)

	// 2. Physical limit: each member's restart-to-healthy, one at a time,
	// with leadership moved away first (untimed), as apply does.
	l = startLoad(b, st, "/bench/physical")
	var sum time.Duration
	ec, err := etcdp.New(endpoints(st))
	if err != nil {
		b.Fatal(err)
	}
	defer ec.Close()
	for _, h := range st.Members() {
		moveLeaderFrom(b, ec, h.Name)
		t0 := time.Now()
		if _, code := run(b, "ssh", labtest.SSHArgs(st, h.Addr, "sv -w 60 restart etcd")...); code != 0 {
			b.Fatalf("restart %s failed", h.Name)
		}
		waitHealthy(b, h)
		d := time.Since(t0)
		sum += d
		waitGate(b, st)
	}
	report("physical-limit", sum, l)

	// 3. Naive loop: ssh restart then sleep, no leadership transfer.
	const naiveSleep = 15 * time.Second
	l = startLoad(b, st, "/bench/naive")
	t0 := time.Now()
	for _, h := range st.Members() {
		if _, code := run(b, "ssh", labtest.SSHArgs(st, h.Addr, "sv -w 60 restart etcd")...); code != 0 {
			b.Fatalf("restart %s failed", h.Name)
		}
		time.Sleep(naiveSleep) // the baseline's own fixed sleep, by design
	}
	report(fmt.Sprintf("naive-sleep-%ds", int(naiveSleep.Seconds())), time.Since(t0), l)

	b.ReportMetric(float64(applyWall)/float64(sum), "apply/physical")
	fmt.Printf("apply / physical limit = %.2f (goal <= 1.2)\n", float64(applyWall)/float64(sum))
}

func endpoints(st *lab.State) []string {
	var eps []string
	for _, h := range st.Members() {
		eps = append(eps, h.ClientURL())
	}
	return eps
}

// moveLeaderFrom hands leadership away from the named member if it leads.
func moveLeaderFrom(b *testing.B, ec *etcdp.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader, members, err := ec.Leader(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range members {
		if m.Name == name && m.ID == leader {
			to, err := ec.PickTransferee(ctx, leader)
			if err != nil {
				b.Fatal(err)
			}
			if err := ec.MoveLeader(ctx, to); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// waitGate waits until every member is healthy again before the next
// member is restarted in the physical-limit measurement.
func waitGate(b *testing.B, st *lab.State) {
	for _, h := range st.Members() {
		waitHealthy(b, h)
	}
}

// etcdHealthInterval is etcd's etcdserver.HealthInterval: a member refuses
// to add a member ("unhealthy cluster", its strict reconfiguration check)
// until it has been connected to every voter for that long.
const etcdHealthInterval = 5 * time.Second

// waitSettled waits until the etcd of every host in hs has run longer
// than etcdHealthInterval (with a second to spare for the peers to
// connect), so that a member change is not refused for a cluster that
// has only just started. A lab is that young right after labtest.Up; a
// production cluster is not, and the limits these benchmarks compare
// with are measured on a lab that has run for a while: without the wait
// the apply alone paid up to 5 s for the lab's youth.
func waitSettled(b *testing.B, st *lab.State, hs ...lab.Host) {
	b.Helper()
	for _, h := range hs {
		labtest.WaitEtcdRunLonger(b, st, h, etcdHealthInterval+time.Second)
	}
}

// publishRetries counts the times the etcd on lab host h logged that it
// failed to publish itself to the cluster through raft: a member that
// joins and loses that proposal (it was in flight when the leader's
// snapshot arrived and etcd reset its peers) does not serve its clients
// until etcd retries it, one request timeout (7 s with the lab's 1 s
// election timeout) later.
func publishRetries(b *testing.B, h lab.Host) int {
	data, err := os.ReadFile(filepath.Join(h.Root, "var-log", "etcd", "etcd.log"))
	if err != nil {
		b.Fatal(err)
	}
	return strings.Count(string(data), "failed to publish local member to cluster through raft")
}

// applyTimed runs `etcdform apply` with args, logs its progress lines
// ("[cluster] step ...", with the time since its start), and returns its
// wall time; a failing apply fails the benchmark with its output.
func applyTimed(b *testing.B, args ...string) time.Duration {
	b.Helper()
	d, _ := applyTimedOut(b, args...)
	return d
}

// applyTimedOut is applyTimed that also returns apply's output.
func applyTimedOut(b *testing.B, args ...string) (time.Duration, string) {
	b.Helper()
	cmd := exec.Command(binary, append([]string{"apply"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "[") {
			b.Log(strings.TrimSpace(line))
		}
	}
	if err != nil {
		b.Fatalf("apply: %v\n%s", err, out.String())
	}
	return d, out.String()
}
