package history

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
)

// waitOps waits until r has at least n more operations, a quarter of
// them acknowledged puts, than it had at the call.
func waitOps(t *testing.T, r *Recorder, n int) {
	t.Helper()
	waitProgress(t, r, n, n/4)
}

func waitProgress(t *testing.T, r *Recorder, n, wantAcked int) {
	t.Helper()
	ops0, acked0 := r.Progress()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ops, acked := r.Progress()
		if ops-ops0 >= n && acked-acked0 >= wantAcked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recorder made %d operations (%d acked puts) in 30s, want %d", ops-ops0, acked-acked0, n)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// TestRecorderAcrossAKilledMember records a history on a real 3-member
// cluster while one member is killed and started again, and checks it.
func TestRecorderAcrossAKilledMember(t *testing.T) {
	c := etcdtest.NewCluster(t, 3)
	dial := func(int) (*clientv3.Client, error) {
		return clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	}
	r := Record(t, dial, Options{OpTimeout: 2 * time.Second})
	waitOps(t, r, 100)
	m := c.Members[0]
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	waitOps(t, r, 100)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), etcdtest.StartTimeout)
	defer cancel()
	if err := m.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	r.Pause()
	paused, _ := r.Progress()
	r.Resume()
	waitOps(t, r, 100)
	res := r.Verify(t)
	if res.Ops < 300 || res.Puts == 0 || res.Gets == 0 || res.Verdict != Ok {
		t.Errorf("%s; want at least 300 operations, puts and gets, and ok", res)
	}
	if paused >= res.Ops {
		t.Errorf("no operations after Resume")
	}
}

// TestRecorderCatchesALostWrite is the negative control on a real
// cluster: the history of one cluster continued on another (a fresh,
// empty one, as a restore from an old snapshot would look) is not
// linearizable, and Verify fails.
func TestRecorderCatchesALostWrite(t *testing.T) {
	a, b := etcdtest.NewCluster(t, 1), etcdtest.NewCluster(t, 1)
	target := a
	dial := func(int) (*clientv3.Client, error) {
		// The cluster of the moment, resolved per client at dial time.
		return clientv3.New(clientv3.Config{Endpoints: target.Endpoints(), DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	}
	ra := Record(t, dial, Options{Keys: 2})
	waitOps(t, ra, 50)
	opsA := ra.Stop()
	target = b
	rb := Record(t, dial, Options{Keys: 2, PutRatio: 0.01}) // reads: they find the keys gone
	waitProgress(t, rb, 50, 0)
	opsB := rb.Stop()
	// rb's clock started later: shift its times after ra's.
	var shift int64
	for _, o := range opsA {
		shift = max(shift, o.Return+1)
	}
	for _, o := range opsB {
		o.Call += shift
		o.Return += shift
		o.Client += 100
		opsA = append(opsA, o)
	}
	res := Check(opsA, 10*time.Second)
	t.Log(res)
	if res.Verdict != Illegal {
		t.Errorf("verdict %q for a history that lost its writes, want %q", res.Verdict, Illegal)
	}
}
