package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/etcdbin"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

func clusterClient(b *testing.B, eps ...string) *clientv3.Client {
	b.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// fillToNoSpace overwrites a few 1 MiB keys until etcd answers "database
// space exceeded", then waits for the NOSPACE alarm. Overwrites make the
// data mostly history, which compaction frees, as in a real incident of a
// key rewritten too often.
func fillToNoSpace(b *testing.B, c *clientv3.Client) {
	b.Helper()
	val := strings.Repeat("x", 1<<20)
	full := false
	for i := 0; i < 600 && !full; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Put(ctx, fmt.Sprintf("/nospace/%02d", i%16), val)
		cancel()
		switch {
		case err != nil && strings.Contains(err.Error(), "database space exceeded"):
			full = true
		case err != nil:
			b.Fatalf("put %d: %v", i, err)
		}
	}
	if !full {
		b.Fatal("600 MiB written and no NOSPACE: the quota is not 160 MiB")
	}
	labtest.Eventually(b, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		al, err := c.AlarmList(ctx)
		if err != nil {
			return err
		}
		if len(al.Alarms) == 0 {
			return errors.New("no alarm raised yet")
		}
		return nil
	})
}

// firstWrite retries a small put every 5 ms from t0 on and returns the
// time from t0 to the first accepted one. It gives up when failed is
// closed (the recovery failed).
func firstWrite(c *clientv3.Client, t0 time.Time, failed <-chan struct{}) (time.Duration, error) {
	for {
		select {
		case <-failed:
			return 0, errors.New("the recovery failed before a write was accepted")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Put(ctx, "/nospace-probe", "ok")
		cancel()
		if err == nil {
			return time.Since(t0), nil
		}
		if time.Since(t0) > 10*time.Minute {
			return 0, fmt.Errorf("no write accepted 10m after the recovery started: %w", err)
		}
		time.Sleep(5 * time.Millisecond) // the probe's retry interval, by design
	}
}

// BenchmarkNoSpaceRecovery compares, on a 3-member lab with a 160 MiB quota
// filled until NOSPACE (a few keys overwritten, so the data is mostly
// history), the time from the start of the recovery to the first accepted
// write (a put retried every 5 ms by a client connected beforehand):
//
//   - etcdform: `etcdform apply --auto-approve` of the saved plan of the
//     unchanged HCL (quota kept at 160 MiB: compact, a defrag per member
//     with the leader last, the guarded disarm; no snapshot, since nothing
//     risky follows), planned untimed right after the alarm. The process
//     start, reading the plan and the configuration, the lock (host locks
//     over SSH: the cluster grants no lease), the observation and
//     re-derivation of the steps under the lock, the steps and their
//     health gates are all inside the time. Its progress lines give the
//     timeline.
//   - bare: the etcdctl commands an operator types, each its own process
//     (etcdctl built from go.etcd.io/etcd/etcdctl/v3 at the lab's version):
//     `etcdctl endpoint status -w json` (the current revision and the
//     leader: the guide's step 1), `etcdctl compact --physical REV`,
//     `etcdctl defrag` of each member (followers first, the leader last),
//     `etcdctl alarm disarm`. Typing time is not counted.
//   - in-process: the same requests as bare, made with one clientv3 client
//     connected beforehand (no process starts, no revision lookup): the
//     floor of the work itself.
//
// Each side runs on the lab refilled to NOSPACE; etcdform and bare run in
// rounds of alternating order (ETCDFORM_BENCH_NOSPACE_ROUNDS, default 3),
// in-process once after them. It reports each round, the medians, the
// ratios apply/bare (the median of the rounds') and apply/in-process, and
// the load average.
func BenchmarkNoSpaceRecovery(b *testing.B) {
	etcdctl, err := etcdbin.EnsureEtcdctl(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	st := labtest.Up(b, lab.Options{Members: 3})
	dir := labtest.ConfigDir(b, st, labtest.WithStorage("160MiB"))
	pf := filepath.Join(b.TempDir(), "quota.plan")
	if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, dir); code != 2 {
		b.Fatalf("plan of the 160MiB quota: exit %d", code)
	}
	if _, code := run(b, binary, "apply", "--auto-approve", "--snapshot-dir", b.TempDir(), pf); code != 0 {
		b.Fatalf("apply of the 160MiB quota: exit %d", code)
	}
	eps := endpoints(st)
	c := clusterClient(b, eps...)
	probe := clusterClient(b, eps...)
	load0 := loadAvg()

	// etcdform and bare, in rounds of alternating order (the side that
	// runs first meets a database filled from a different state), each on
	// the lab refilled to NOSPACE.
	rounds := 3
	if v := os.Getenv("ETCDFORM_BENCH_NOSPACE_ROUNDS"); v != "" {
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 {
			b.Fatalf("ETCDFORM_BENCH_NOSPACE_ROUNDS=%q: want a count of 1 or more", v)
		}
	}
	var applyTs, applyWalls, bareTs []time.Duration
	var timeline, bareSteps []stamp
	applySide := func() {
		fillToNoSpace(b, c)
		if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, dir); code != 2 { // planned untimed
			b.Fatalf("plan of the NOSPACE recovery: exit %d", code)
		}
		var wall time.Duration
		t := timeFirstWrite(b, probe, func(t0 time.Time) error {
			var err error
			timeline, err = runTimed(t0, binary, "apply", "--auto-approve", "--snapshot-dir", b.TempDir(), pf)
			wall = time.Since(t0)
			return err
		})
		applyTs, applyWalls = append(applyTs, t), append(applyWalls, wall)
	}
	bareSide := func() {
		fillToNoSpace(b, c)
		bareTs = append(bareTs, timeFirstWrite(b, probe, func(t0 time.Time) error {
			var err error
			bareSteps, err = etcdctlRecovery(t0, etcdctl, eps)
			return err
		}))
	}
	for r := range rounds {
		if r%2 == 0 {
			applySide()
			bareSide()
		} else {
			bareSide()
			applySide()
		}
	}
	applyT, applyWall, bareT := median(applyTs), median(applyWalls), median(bareTs)

	// in-process: one client, connected beforehand.
	fillToNoSpace(b, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := c.Status(ctx, eps[0])
	if err != nil {
		b.Fatal(err)
	}
	order := defragOrder(b, c, eps)
	inT := timeFirstWrite(b, probe, func(time.Time) error {
		if _, err := c.Compact(ctx, s.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
			return err
		}
		for _, ep := range order {
			if _, err := c.Defragment(ctx, ep); err != nil {
				return fmt.Errorf("defrag %s: %w", ep, err)
			}
		}
		_, err := c.AlarmDisarm(ctx, &clientv3.AlarmMember{}) // every alarm, as etcdctl alarm disarm
		return err
	})

	var ratios []float64
	var sumApply, sumBare time.Duration
	for r := range rounds {
		ratios = append(ratios, float64(applyTs[r])/float64(bareTs[r]))
		sumApply, sumBare = sumApply+applyTs[r], sumBare+bareTs[r]
	}
	ratio, inRatio := median(ratios), float64(applyT)/float64(inT)
	b.ReportMetric(applyT.Seconds(), "apply-first-write-s")
	b.ReportMetric(applyWall.Seconds(), "apply-wall-s")
	b.ReportMetric(bareT.Seconds(), "etcdctl-first-write-s")
	b.ReportMetric(inT.Seconds(), "inprocess-first-write-s")
	b.ReportMetric(ratio, "apply/etcdctl")
	b.ReportMetric(inRatio, "apply/inprocess")
	fmt.Printf("NOSPACE recovery, 3 members, 160 MiB quota unchanged, time to the first accepted write (load average %s before, %s after):\n", load0, loadAvg())
	for r := range rounds {
		first := "etcdform first"
		if r%2 == 1 {
			first = "etcdctl first"
		}
		fmt.Printf("  round %d (%s): etcdform %.2f s, etcdctl %.2f s, ratio %.2f\n", r+1, first, applyTs[r].Seconds(), bareTs[r].Seconds(), ratios[r])
	}
	b.ReportMetric(float64(sumApply)/float64(sumBare), "apply/etcdctl-sums")
	fmt.Printf("  medians of %d rounds (ratio of the sums %.2f); the timelines are the last round's\n", rounds, float64(sumApply)/float64(sumBare))
	fmt.Printf("  etcdform apply --auto-approve PLAN  %6.2f s (the process exits after %.2f s)\n", applyT.Seconds(), applyWall.Seconds())
	for _, st := range timeline {
		fmt.Printf("      %6.3f s  %s\n", st.at.Seconds(), st.what)
	}
	fmt.Printf("  etcdctl, one process per command    %6.2f s\n", bareT.Seconds())
	for _, st := range bareSteps {
		fmt.Printf("      %6.3f s  %s\n", st.at.Seconds(), st.what)
	}
	fmt.Printf("  clientv3 in-process, same requests  %6.2f s\n", inT.Seconds())
	fmt.Printf("  ratio apply/etcdctl %.2f, the median of the rounds' (goal <= 1.3); apply/in-process %.2f\n", ratio, inRatio)
}

// stamp is a moment of a timed recovery, from its start.
type stamp struct {
	at   time.Duration
	what string
}

// timeFirstWrite runs recover (given its start time) while a probe retries
// a small put every 5 ms, and returns the time from the start to the first
// accepted put. A failed recovery fails the benchmark.
func timeFirstWrite(b *testing.B, probe *clientv3.Client, recover func(t0 time.Time) error) time.Duration {
	b.Helper()
	failed := make(chan struct{})
	var probeT time.Duration
	var probeErr error
	done := make(chan struct{})
	t0 := time.Now()
	go func() { defer close(done); probeT, probeErr = firstWrite(probe, t0, failed) }()
	if err := recover(t0); err != nil {
		close(failed)
		<-done
		b.Fatal(err)
	}
	<-done
	if probeErr != nil {
		b.Fatal(probeErr)
	}
	return probeT
}

// runTimed runs a command and returns the time, from t0, at which each of
// its output lines that report progress ("[cluster] ...") arrived, and the
// first line. The output goes to the error when the command fails.
func runTimed(t0 time.Time, name string, args ...string) ([]stamp, error) {
	cmd := exec.Command(name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var all strings.Builder
	var stamps []stamp
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		at, line := time.Since(t0), sc.Text()
		all.WriteString(line + "\n")
		if len(stamps) == 0 || strings.HasPrefix(line, "[") && !strings.Contains(line, ": starting") && !strings.Contains(line, "waiting for health") {
			stamps = append(stamps, stamp{at, line})
		}
	}
	if err := cmd.Wait(); err != nil {
		return stamps, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, all.String())
	}
	return stamps, nil
}

// etcdctlRecovery is the guide's recovery as an operator types it, one
// etcdctl process per command: endpoint status (the revision and the
// leader), compact --physical, defrag of each member with the leader last,
// alarm disarm. It returns when each command ended, from t0.
func etcdctlRecovery(t0 time.Time, etcdctl string, eps []string) ([]stamp, error) {
	var stamps []stamp
	ctl := func(args ...string) ([]byte, error) {
		out, err := exec.Command(etcdctl, args...).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("etcdctl %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		stamps = append(stamps, stamp{time.Since(t0), "etcdctl " + strings.Join(args, " ")})
		return out, nil
	}
	all := "--endpoints=" + strings.Join(eps, ",")
	out, err := ctl(all, "endpoint", "status", "-w", "json")
	if err != nil {
		return nil, err
	}
	var sts []struct {
		Endpoint string
		Status   struct {
			Header struct {
				MemberID uint64 `json:"member_id"`
				Revision int64  `json:"revision"`
			} `json:"header"`
			Leader uint64 `json:"leader"`
		}
	}
	if err := json.Unmarshal(out, &sts); err != nil || len(sts) != len(eps) {
		return nil, fmt.Errorf("etcdctl endpoint status: %v, %d entries\n%s", err, len(sts), out)
	}
	var rev int64
	var order []string
	leader := ""
	for _, s := range sts {
		rev = max(rev, s.Status.Header.Revision)
		if s.Status.Header.MemberID == s.Status.Leader {
			leader = s.Endpoint
			continue
		}
		order = append(order, s.Endpoint)
	}
	if _, err := ctl(all, "compact", "--physical", strconv.FormatInt(rev, 10)); err != nil {
		return nil, err
	}
	for _, ep := range append(order, leader) {
		if _, err := ctl("--endpoints="+ep, "defrag"); err != nil {
			return nil, err
		}
	}
	if _, err := ctl(all, "alarm", "disarm"); err != nil {
		return nil, err
	}
	return stamps, nil
}

// defragOrder is the client URLs, followers first, the leader last.
func defragOrder(b *testing.B, c *clientv3.Client, eps []string) []string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var order []string
	last := ""
	for _, ep := range eps {
		s, err := c.Status(ctx, ep)
		if err != nil {
			b.Fatal(err)
		}
		if s.Header.MemberId == s.Leader {
			last = ep
			continue
		}
		order = append(order, ep)
	}
	return append(order, last)
}

// loadAvg is the 1-minute load average, as /proc/loadavg says.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// stallLoad is one writer per endpoint (each its own client, so a member
// that stalls stalls its writer), recording each acknowledgement's time and
// latency.
type stallLoad struct {
	mu     sync.Mutex
	acks   []time.Time
	lat    []time.Duration
	failed int
	start  time.Time
	end    time.Time // set by finish
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startStallLoad(b *testing.B, st *lab.State, prefix string) *stallLoad {
	l := &stallLoad{stop: make(chan struct{}), start: time.Now()}
	for i, ep := range endpoints(st) {
		c := clusterClient(b, ep)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(5 * time.Millisecond) // up to 200 writes/s offered per endpoint
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				t0 := time.Now()
				_, err := c.Put(ctx, fmt.Sprintf("%s/%d/%08d", prefix, i, n), "v")
				now := time.Now()
				cancel()
				l.mu.Lock()
				if err == nil {
					l.acks = append(l.acks, now)
					l.lat = append(l.lat, now.Sub(t0))
				} else {
					l.failed++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// finish stops the writers and returns the longest time without an
// acknowledged write (counting from the start and to the end), the p99
// and the rate of acknowledged writes, and the failed writes.
func (l *stallLoad) finish() (maxGap, p99 time.Duration, rate float64, failed int) {
	end := time.Now()
	l.end = end
	close(l.stop)
	l.wg.Wait()
	for _, g := range l.gaps(0) {
		maxGap = max(maxGap, g.len)
	}
	lat := slices.Clone(l.lat)
	slices.Sort(lat)
	if len(lat) > 0 {
		p99 = lat[len(lat)*99/100]
	}
	return maxGap, p99, float64(len(l.acks)) / end.Sub(l.start).Seconds(), l.failed
}

// loadGap is a time without an acknowledged write, from the start of the
// load to the end finish saw.
type loadGap struct {
	from time.Time
	len  time.Duration
}

// gaps returns the times without an acknowledged write longer than over,
// in order, once finish has stopped the writers.
func (l *stallLoad) gaps(over time.Duration) []loadGap {
	acks := slices.Clone(l.acks)
	slices.SortFunc(acks, func(a, b time.Time) int { return a.Compare(b) })
	var out []loadGap
	prev := l.start
	for _, a := range append(acks, l.end) {
		if a.After(l.end) {
			a = l.end
		}
		if g := a.Sub(prev); g > over {
			out = append(out, loadGap{prev, g})
		}
		prev = a
	}
	return out
}

// fragment writes about 100 MiB, deletes and compacts it, and waits until
// every member has it free.
func fragment(b *testing.B, st *lab.State, c *clientv3.Client) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	val := strings.Repeat("x", 1<<20)
	for i := range 100 {
		if _, err := c.Put(ctx, fmt.Sprintf("/frag/%03d", i), val); err != nil {
			b.Fatal(err)
		}
	}
	r, err := c.Delete(ctx, "/frag/", clientv3.WithPrefix())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Compact(ctx, r.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		b.Fatal(err)
	}
	// Each member frees the compacted pages on its own, and reports them
	// at its next backend commit: a small write per poll brings that on.
	labtest.Eventually(b, time.Minute, func() error {
		if _, err := c.Put(ctx, "/frag-poll", "x"); err != nil {
			return err
		}
		for _, h := range st.Members() {
			s, err := c.Status(ctx, h.ClientURL())
			if err != nil {
				return err
			}
			if free := s.DbSize - s.DbSizeInUse; free < 64<<20 {
				return fmt.Errorf("%s has %d bytes free, not yet the deleted 100 MiB", h.Name, free)
			}
		}
		return nil
	})
}

// withDefrag adds a maintenance block with a defrag policy to the cluster.
func withDefrag(above, minReclaim string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "  service {", fmt.Sprintf("  maintenance {\n    defrag {\n      fragmentation_above = %q\n      min_reclaimable     = %q\n    }\n  }\n\n  service {", above, minReclaim), 1)
	}
}

// BenchmarkDefragStall compares, on a 3-member lab with about 100 MiB
// written, deleted and compacted, under one writer per endpoint: (a)
// `etcdform apply` of the routine defrag plan of a maintenance { defrag }
// block (one member at a time, the leader last, health-gated); (b) an
// unmanaged defrag of every member at once (concurrent clientv3
// Defragment calls on all endpoints, the issue's reading of `etcdctl
// defrag --cluster`); (c) the real `etcdctl defrag --cluster` process,
// which in 3.6 defragments the members one after the other in member-list
// order. It reports the longest time without an acknowledged write and the
// p99 write latency of each. (b) and (c) each run on a fresh lab
// fragmented the same way.
func BenchmarkDefragStall(b *testing.B) {
	st := labtest.Up(b, lab.Options{Members: 3})
	c := clusterClient(b, endpoints(st)...)
	report := func(name string, wall time.Duration, l *stallLoad) {
		gap, p99, rate, failed := l.finish()
		b.ReportMetric(ms(gap), name+"-max-gap-ms")
		b.ReportMetric(ms(p99), name+"-p99-write-ms")
		b.ReportMetric(rate, name+"-writes/s")
		fmt.Printf("%-22s wall %6.2f s   max gap between acknowledged writes %7.1f ms   p99 write %6.1f ms   %5.0f acknowledged writes/s   failed %d\n",
			name, wall.Seconds(), ms(gap), ms(p99), rate, failed)
	}

	// (a) etcdform apply (planned untimed, under the load).
	fragment(b, st, c)
	dir := labtest.ConfigDir(b, st, withDefrag("30%", "32MiB"))
	pf := filepath.Join(b.TempDir(), "defrag.plan")
	if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, dir); code != 2 {
		b.Fatalf("plan of the defrags: exit %d", code)
	}
	l := startStallLoad(b, st, "/bench/defrag-apply")
	time.Sleep(2 * time.Second) // steady load before and after, by design
	wall, code := run(b, binary, "apply", "--auto-approve", "--snapshot-dir", b.TempDir(), pf)
	if code != 0 {
		b.Fatalf("apply of the defrags: exit %d", code)
	}
	time.Sleep(2 * time.Second)
	report("etcdform-apply", wall, l)

	// (b) every member at once, on a fresh lab fragmented the same way (a
	// second fragmentation of the defragmented lab does not reliably free
	// the 100 MiB on every member within a minute).
	st = labtest.Up(b, lab.Options{Members: 3})
	c = clusterClient(b, endpoints(st)...)
	fragment(b, st, c)
	l = startStallLoad(b, st, "/bench/defrag-cluster")
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(st.Members()))
	for _, ep := range endpoints(st) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Defragment(ctx, ep); err != nil {
				errs <- fmt.Errorf("defrag %s: %w", ep, err)
			}
		}()
	}
	wg.Wait()
	wall = time.Since(t0)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	report("defrag-all-at-once", wall, l)

	// (c) the real `etcdctl defrag --cluster` (3.6 defragments the members
	// of the member list one after the other, in list order, not leader
	// last, with no health check between), on a fresh lab.
	etcdctl, err := etcdbin.EnsureEtcdctl(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	st = labtest.Up(b, lab.Options{Members: 3})
	c = clusterClient(b, endpoints(st)...)
	fragment(b, st, c)
	l = startStallLoad(b, st, "/bench/defrag-etcdctl")
	time.Sleep(2 * time.Second)
	t0 = time.Now()
	if out, err := exec.CommandContext(ctx, etcdctl, "--endpoints="+strings.Join(endpoints(st), ","), "defrag", "--cluster").CombinedOutput(); err != nil {
		b.Fatalf("etcdctl defrag --cluster: %v\n%s", err, out)
	}
	wall = time.Since(t0)
	time.Sleep(2 * time.Second)
	report("etcdctl-defrag-cluster", wall, l)
}
