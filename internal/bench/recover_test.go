package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// BenchmarkQuorumLossRecovery times, on a 3-member lab that lost two
// members with their data, `etcdform apply` of the `plan --recover` plan
// (from apply start to a healthy 3-member cluster), against the physical
// limit measured on the same lab after a second loss: the survivor's
// restore as a one-member cluster (stop, etcdutl snapshot restore of its
// backend, start, healthy) plus the two learner additions (add, start,
// promote as soon as etcd accepts), each timed alone.
func BenchmarkQuorumLossRecovery(b *testing.B) {
	st := labtest.Up(b, lab.Options{Members: 3})
	survivor := st.Members()[2]
	others := st.Members()[:2]
	cfgs := map[string]etcdconf.File{}
	for _, h := range st.Members() {
		cfgs[h.Name] = readConfig(b, h)
	}
	l := startLoad(b, st, "/bench/before")
	time.Sleep(2 * time.Second) // the load's own duration: keys to recover, not synchronisation
	l.finish(b)
	for _, h := range others {
		lose(b, st, h)
	}
	dir := labtest.ConfigDir(b, st)
	pf := filepath.Join(b.TempDir(), "recover.plan")
	if _, code := run(b, binary, "plan", "--recover", "--detailed-exitcode", "--out", pf, dir); code != 2 {
		b.Fatalf("plan --recover: exit %d", code)
	}
	applyT := applyTimed(b, "--auto-approve", "--snapshot-dir", b.TempDir(), pf)
	retries := 0
	for _, h := range others {
		retries += publishRetries(b, h)
	}
	fmt.Printf("%-24s %6.2f s (etcd publish retries of the members added back: %d)\n", "etcdform-apply", applyT.Seconds(), retries)
	b.ReportMetric(float64(retries), "publish-retries")

	// The physical limit: the same loss again, recovered by hand.
	for _, h := range others {
		lose(b, st, h)
	}
	restoreT := restoreByHand(b, st, survivor, cfgs[survivor.Name])
	fmt.Printf("%-24s %6.2f s\n", "physical: restore", restoreT.Seconds())
	physT := restoreT
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{survivor.ClientURL()}, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// The additions one after the other, as etcd allows them: it refuses
	// the second until the first new voter has been connected for its
	// health interval (etcdHealthInterval), a wait apply pays too. The
	// limit ends when etcd accepts the promotion; the time until the new
	// member also serves its clients (as apply's gate asks) is printed
	// beside it, and so is the time etcd refused the addition.
	servingT, refusedT := restoreT, time.Duration(0)
	for _, h := range others {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t0 := time.Now()
		refused := addByHand(ctx, b, st, c, h, cfgs[h.Name])
		d := time.Since(t0)
		cancel()
		serving := d + waitHealthy(b, h)
		physT += d
		servingT += serving
		refusedT += refused
		fmt.Printf("%-24s %6.2f s (of which etcd refused the addition %.2f s; serving its clients after %.2f s)\n", "physical: add "+h.Name, d.Seconds(), refused.Seconds(), serving.Seconds())
	}
	b.ReportMetric(applyT.Seconds(), "apply-s")
	b.ReportMetric(physT.Seconds(), "physical-s")
	b.ReportMetric(float64(applyT)/float64(physT), "apply/physical")
	b.ReportMetric(servingT.Seconds(), "physical-serving-s")
	alone := physT - refusedT
	b.ReportMetric(alone.Seconds(), "physical-alone-s")
	fmt.Printf("quorum-loss recovery: apply %.2f s, physical limit %.2f s, ratio %.2f (goal <= 1.3)\n", applyT.Seconds(), physT.Seconds(), float64(applyT)/float64(physT))
	fmt.Printf("  limit with each addition alone (less etcd's refusals) %.2f s, ratio %.2f; limit until every member serves its clients %.2f s, ratio %.2f\n",
		alone.Seconds(), float64(applyT)/float64(alone), servingT.Seconds(), float64(applyT)/float64(servingT))
}

// lose kills h's etcd, disables it, and empties its data dir and config.
func lose(b *testing.B, st *lab.State, h lab.Host) {
	if err := st.Fault(context.Background(), lab.FaultKill, h.Name); err != nil {
		b.Fatal(err)
	}
	for _, d := range []string{"var-lib-etcd", "etc-etcd"} {
		entries, err := os.ReadDir(filepath.Join(h.Root, d))
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(h.Root, d, e.Name())); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, code := run(b, "ssh", labtest.SSHArgs(st, h.Addr, "sv down /etc/service/etcd; touch /etc/service/etcd/down")...); code != 0 {
		b.Fatalf("disabling etcd on %s failed", h.Name)
	}
}

// restoreByHand makes survivor h a one-member cluster from its own data,
// as recover-survivor does, and returns the time until it is healthy.
func restoreByHand(b *testing.B, st *lab.State, h lab.Host, cfg etcdconf.File) time.Duration {
	token := fmt.Sprintf("lab-by-hand-%d", time.Now().UnixNano())
	restore := strings.Join([]string{
		"set -e", "sv -w 30 down /etc/service/etcd",
		"mv /var/lib/etcd/member /var/lib/etcd/member.removed-byhand",
		fmt.Sprintf("/usr/local/bin/etcdutl snapshot restore /var/lib/etcd/member.removed-byhand/snap/db --skip-hash-check --data-dir=/var/lib/etcd/tmp --name=%s --initial-cluster=%s=%s --initial-cluster-token=%s --initial-advertise-peer-urls=%s --bump-revision=1000000000 --mark-compacted >/dev/null 2>&1",
			h.Name, h.Name, h.PeerURL(), token, h.PeerURL()),
		"mv /var/lib/etcd/tmp/member /var/lib/etcd/member", "rmdir /var/lib/etcd/tmp",
	}, "\n")
	t0 := time.Now()
	if _, code := run(b, "ssh", labtest.SSHArgs(st, h.Addr, restore)...); code != 0 {
		b.Fatalf("restore on %s failed", h.Name)
	}
	cfg.InitialClusterToken = token
	writeConfig(b, h, cfg, map[string]string{h.Name: h.PeerURL()}, "new")
	if _, code := run(b, "ssh", labtest.SSHArgs(st, h.Addr, "sv up /etc/service/etcd")...); code != 0 {
		b.Fatalf("starting etcd on %s failed", h.Name)
	}
	waitHealthy(b, h)
	return time.Since(t0)
}
