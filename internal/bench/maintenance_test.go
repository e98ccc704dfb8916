package bench

import (
	"context"
	"errors"
	"fmt"
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
// write: (a) `etcdform apply` of the plan of the unchanged HCL (quota kept at
// 160 MiB, so both sides do the same work: the plan's snapshot, compact,
// a defrag per member with the leader last, disarm); (b) the bare sequence an
// operator types, done with clientv3 calls equal to etcdctl's: compact
// --physical to the current revision, defrag of each member one at a time,
// alarm disarm. The lab is refilled to NOSPACE before (b).
func BenchmarkNoSpaceRecovery(b *testing.B) {
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

	// (a) etcdform apply of the recovery plan (planned untimed). A member
	// can raise its own NOSPACE after the plan was made; apply then refuses
	// the plan as stale without acting, and the bench plans again (an
	// operator would too) and times the apply that runs.
	fillToNoSpace(b, c)
	var applyT, applyWall time.Duration
	stale := 0
	for {
		if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, dir); code != 2 {
			b.Fatalf("plan of the NOSPACE recovery: exit %d", code)
		}
		cmd := exec.Command(binary, "apply", "--auto-approve", "--snapshot-dir", b.TempDir(), pf)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		applyFailed := make(chan struct{})
		var applyErr error
		applyDone := make(chan struct{})
		go func() {
			defer close(applyDone)
			if applyErr = cmd.Wait(); applyErr != nil {
				close(applyFailed)
			}
			applyWall = time.Since(t0)
		}()
		var err error
		applyT, err = firstWrite(probe, t0, applyFailed)
		<-applyDone
		if applyErr != nil && strings.Contains(out.String(), "Nothing was applied") && stale < 3 {
			stale++
			b.Logf("apply refused a stale plan (attempt %d), planning again:\n%s", stale, out.String())
			continue
		}
		if applyErr != nil || err != nil {
			b.Fatalf("apply of the NOSPACE recovery: %v, %v\n%s", applyErr, err, out.String())
		}
		b.Logf("etcdform apply of the NOSPACE recovery:\n%s", out.String())
		break
	}

	// (b) the bare sequence on a refilled lab.
	fillToNoSpace(b, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	var bareT time.Duration
	var probeErr error
	done, bareFailed := make(chan struct{}), make(chan struct{})
	defer func() {
		select {
		case <-done:
		default:
			close(bareFailed)
			<-done
		}
	}()
	go func() { defer close(done); bareT, probeErr = firstWrite(probe, t0, bareFailed) }()
	s, err := c.Status(ctx, eps[0]) // etcdctl endpoint status: the current revision
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Compact(ctx, s.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		b.Fatal(err)
	}
	for _, ep := range eps {
		if _, err := c.Defragment(ctx, ep); err != nil {
			b.Fatalf("defrag %s: %v", ep, err)
		}
	}
	if _, err := c.AlarmDisarm(ctx, &clientv3.AlarmMember{}); err != nil { // all alarms, as etcdctl alarm disarm
		b.Fatal(err)
	}
	<-done
	if probeErr != nil {
		b.Fatal(probeErr)
	}

	ratio := float64(applyT) / float64(bareT)
	b.ReportMetric(applyT.Seconds(), "apply-first-write-s")
	b.ReportMetric(applyWall.Seconds(), "apply-wall-s")
	b.ReportMetric(bareT.Seconds(), "bare-first-write-s")
	b.ReportMetric(ratio, "apply/bare")
	b.ReportMetric(float64(stale), "stale-plans")
	fmt.Printf("NOSPACE recovery, 3 members, 160 MiB quota unchanged: etcdform apply: first accepted write after %.2f s (apply exits after %.2f s); bare compact + defrag x3 + disarm: %.2f s; ratio %.2f (goal <= 1.3); plans refused as stale before the timed apply: %d\n",
		applyT.Seconds(), applyWall.Seconds(), bareT.Seconds(), ratio, stale)
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
	close(l.stop)
	l.wg.Wait()
	acks := slices.Clone(l.acks)
	slices.SortFunc(acks, func(a, b time.Time) int { return a.Compare(b) })
	prev := l.start
	for _, a := range acks {
		if a.After(end) {
			break
		}
		maxGap = max(maxGap, a.Sub(prev))
		prev = a
	}
	maxGap = max(maxGap, end.Sub(prev))
	lat := slices.Clone(l.lat)
	slices.Sort(lat)
	if len(lat) > 0 {
		p99 = lat[len(lat)*99/100]
	}
	return maxGap, p99, float64(len(acks)) / end.Sub(l.start).Seconds(), l.failed
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
// block (one member at a time, the leader last); (b) an unmanaged defrag of
// every member at once (concurrent Defragment calls on all endpoints, as
// `etcdctl defrag --cluster`). It reports the longest time without an
// acknowledged write and the p99 write latency of each. (b) runs on a
// fresh lab fragmented the same way.
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
}
