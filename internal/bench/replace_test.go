package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/internal/etcdconf"
	"github.com/etcdform/etcdform/internal/lab"
	"github.com/etcdform/etcdform/internal/lab/labtest"
)

// BenchmarkReplaceDeadMember times, on a 3-member lab under a steady write
// load, `etcdform apply` of the plan that replaces a killed follower under
// a new name on a spare host (snapshot, remove-member of the dead one,
// add-learner, promote), against the physical limit measured on the same
// lab right after: the same replacement done directly with the etcd API
// and one SSH command (member remove, add as learner, write its config,
// start, promote as soon as etcd accepts), through the live endpoints only.
// The difference is what apply spends on checks, and on the dead member's
// endpoint (issue 16: one timeout per apply, not one per step).
func BenchmarkReplaceDeadMember(b *testing.B) {
	st := labtest.Up(b, lab.Options{Members: 3, Spare: 1})
	spare := st.Hosts[3]
	victim := benchFollower(b, st)
	waitSettled(b, st, st.Members()...)
	l := startLoad(b, st, "/bench/replace")
	if err := st.Fault(context.Background(), lab.FaultKill, victim.Name); err != nil {
		b.Fatal(err)
	}
	dir := labtest.ConfigDir(b, st, labtest.WithMembers(spare), labtest.WithoutMembers(victim.Name))
	pf := filepath.Join(b.TempDir(), "replace.plan")
	if _, code := run(b, binary, "plan", "--detailed-exitcode", "--out", pf, dir); code != 2 {
		b.Fatalf("plan: exit %d", code)
	}
	applyT, out := applyTimedOut(b, "--auto-approve", "--snapshot-dir", b.TempDir(), pf)
	maxLat, _, failed, lost := l.finish(b)
	retries := publishRetries(b, spare)
	fmt.Printf("%-22s wall %6.2f s   max write latency %7.1f ms   failed writes %d   lost writes %d   etcd publish retries of the new member %d\n",
		"etcdform-apply", applyT.Seconds(), ms(maxLat), failed, lost, retries)
	b.ReportMetric(float64(retries), "publish-retries")
	// The promotion ends the time the cluster runs with two voters (from
	// the removal of the dead one), tolerating no failure.
	if d, err := promotedAt(out); err == nil {
		b.ReportMetric(d.Seconds(), "promoted-s")
		fmt.Printf("  promoted %.1f s after apply started (progress, to 0.1 s): the end of the two-voter window\n", d.Seconds())
	} else {
		fmt.Printf("  when the promotion went through is unknown: %v\n", err)
	}

	// The physical limit, on the same lab: the new member (etcd-4 on the
	// spare) is killed and replaced by a member on the victim's host, which
	// the apply left removed, stopped, disabled and with its data moved
	// aside.
	l = startLoad(b, st, "/bench/physical")
	if err := st.Fault(context.Background(), lab.FaultKill, spare.Name); err != nil {
		b.Fatal(err)
	}
	r0 := publishRetries(b, victim)
	physT := replaceByHand(b, st, spare, "etcd-4", victim)
	serving := physT + waitHealthy(b, victim)
	maxLat, _, failed, lost = l.finish(b)
	fmt.Printf("%-22s wall %6.2f s   max write latency %7.1f ms   failed writes %d   lost writes %d   etcd publish retries of the new member %d (it served its clients after %.2f s)\n",
		"physical-limit", physT.Seconds(), ms(maxLat), failed, lost, publishRetries(b, victim)-r0, serving.Seconds())

	b.ReportMetric(applyT.Seconds(), "apply-s")
	b.ReportMetric(physT.Seconds(), "physical-s")
	b.ReportMetric(float64(applyT)/float64(physT), "apply/physical")
	fmt.Printf("replace a dead member under a new name: apply %.2f s, physical limit %.2f s, ratio %.2f (goal: apply <= 1.5 s)\n",
		applyT.Seconds(), physT.Seconds(), float64(applyT)/float64(physT))
	fmt.Println("  (a publish retry: the new member lost its first publish to etcd's snapshot race and serves its clients only one request timeout, 7 s, later; apply promotes it once etcd finds it in sync and waits for it to serve)")
}

// promotedAt returns, from apply's progress, when etcd accepted the
// promote step's promotion (the time since apply started).
func promotedAt(out string) (time.Duration, error) {
	m := promotedLine.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no %q line in apply's progress", promotedLine)
	}
	return time.ParseDuration(m[1])
}

var promotedLine = regexp.MustCompile(`step \d+/\d+ promote \S+: promoted \(([0-9.]+m?s)\)`)

// replaceByHand replaces the dead member named dead, on host deadHost, by
// a learner on host h (its etcd stopped and disabled, its data dir empty but for what was
// moved aside, its config file still there), promoted as soon as etcd
// accepts, and returns the time it took. Its clients use the live
// endpoints only.
func replaceByHand(b *testing.B, st *lab.State, deadHost lab.Host, dead string, h lab.Host) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var eps []string
	for _, m := range st.Hosts {
		if m.Name != deadHost.Name && m.Name != h.Name {
			eps = append(eps, m.ClientURL())
		}
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ml, err := c.MemberList(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var deadID uint64
	for _, m := range ml.Members {
		if m.Name == dead {
			deadID = m.ID
		}
	}
	cfg := readConfig(b, h)

	t0 := time.Now()
	if _, err := c.MemberRemove(ctx, deadID); err != nil {
		b.Fatal(err)
	}
	addByHand(ctx, b, st, c, h, cfg)
	return time.Since(t0)
}

// readConfig reads and parses the config file on lab host h.
func readConfig(b *testing.B, h lab.Host) etcdconf.File {
	data, err := os.ReadFile(filepath.Join(h.Root, "etc-etcd", "etcd.conf.yml"))
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := etcdconf.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	return parsed.File
}

// writeConfig writes f as h's config file, with initial-cluster peers.
func writeConfig(b *testing.B, h lab.Host, f etcdconf.File, peers map[string]string, clusterState string) {
	f.InitialCluster, f.InitialClusterState = etcdconf.InitialCluster(peers), clusterState
	out, err := etcdconf.Marshal(&f)
	if err == nil {
		err = os.WriteFile(filepath.Join(h.Root, "etc-etcd", "etcd.conf.yml"), out, 0o644)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// addByHand adds host h (its etcd stopped, its data dir empty) as a
// learner through c, writes its config cfg with the live peers, starts
// it over SSH and promotes it as soon as etcd accepts. It returns the
// time etcd refused the addition for as "unhealthy cluster" (a voter
// connected for less than etcdHealthInterval), retried like the
// promotion.
func addByHand(ctx context.Context, b *testing.B, st *lab.State, c *clientv3.Client, h lab.Host, cfg etcdconf.File) (refused time.Duration) {
	t0 := time.Now()
	var added *clientv3.MemberAddResponse
	for {
		var err error
		added, err = c.MemberAddAsLearner(ctx, []string{h.PeerURL()})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), rpctypes.ErrorDesc(rpctypes.ErrGRPCUnhealthy)) {
			b.Fatalf("member add: %v", err)
		}
		refused = time.Since(t0)
		time.Sleep(20 * time.Millisecond) // poll interval while etcd refuses
	}
	peers := map[string]string{h.Name: h.PeerURL()}
	for _, m := range added.Members {
		if m.Name != "" {
			peers[m.Name] = m.PeerURLs[0]
		}
	}
	writeConfig(b, h, cfg, peers, "existing")
	if _, code := run(b, "ssh", labtest.SSHArgs(st, h.Addr, "rm -f /etc/service/etcd/down && sv up /etc/service/etcd")...); code != 0 {
		b.Fatalf("starting etcd on %s failed", h.Name)
	}
	for {
		_, err := c.MemberPromote(ctx, added.Member.ID)
		if err == nil {
			return refused
		}
		if !strings.Contains(err.Error(), rpctypes.ErrorDesc(rpctypes.ErrGRPCLearnerNotReady)) {
			b.Fatalf("promote: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval while the learner catches up
	}
}

// benchFollower returns a member that does not lead.
func benchFollower(b *testing.B, st *lab.State) lab.Host {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints(st), DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, h := range st.Members() {
		s, err := c.Status(ctx, h.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		if s.Leader != s.Header.MemberId {
			return h
		}
	}
	b.Fatal("no follower")
	return lab.Host{}
}
