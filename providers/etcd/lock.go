package etcd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LockPrefix is where apply locks live: LockPrefix + cluster name.
const LockPrefix = "/etcdform/lock/"

// ErrLockRefused is a lock that etcd refused outright (NOSPACE, no leader,
// permission denied): nobody holds it, the cluster will not take it.
var ErrLockRefused = errors.New("etcd: the cluster refuses the apply lock")

// Lock is a held apply lock: a mutex key bound to a lease. Holding it is
// not mutual exclusion by itself: the lease can expire (a long pause, a
// partition), so call Check before every risky action.
//
// The mutex is taken with concurrency.Mutex on a dedicated client, which is
// closed as soon as the lock is held; from then on the lease is renewed with
// short KeepAliveOnce calls. A long-lived keepalive stream would pin one
// member: etcd drains open streams for its request timeout (5s + 2 x
// election timeout) before it stops, so every restart of that member would
// take that much longer.
type Lock struct {
	cluster string
	cli     *clientv3.Client
	mu      *concurrency.Mutex
	lease   clientv3.LeaseID
	ttl     time.Duration
	timeout time.Duration

	stop    chan struct{}
	done    chan struct{}
	lostMu  sync.Mutex
	lostErr error
	closed  bool
}

// Lock takes the apply lock of cluster, waiting until ctx ends (the
// caller's lock timeout). ttl is the lease TTL, rounded up to whole
// seconds: a crashed holder releases the lock that long after it died.
// Errors: ErrLockTimeout naming the holder's key, lease and holder text
// when ctx ended while another holder had it; ErrLockRefused saying etcd's
// reason (for NOSPACE, the members whose alarm is raised) when etcd
// refused a request of the lock.
func (c *Client) Lock(ctx context.Context, cluster string, ttl time.Duration) (*Lock, error) {
	secs := int64(math.Ceil(ttl.Seconds()))
	if secs < 1 {
		secs = 1
	}
	// Grant with the caller's ctx so an unreachable cluster cannot block
	// past the lock timeout.
	g, err := c.cli.Grant(ctx, secs)
	if err != nil {
		return nil, c.lockRefused(cluster, "granting a lease", err)
	}
	lockCfg := c.base
	lockCfg.Endpoints = c.cli.Endpoints()
	lockCli, err := clientv3.New(lockCfg)
	if err != nil {
		c.revoke(g.ID)
		return nil, fmt.Errorf("etcd: lock %s: client: %w", cluster, err)
	}
	defer lockCli.Close() // ends the session's keepalive and watch streams
	sess, err := concurrency.NewSession(lockCli, concurrency.WithLease(g.ID), concurrency.WithTTL(int(secs)))
	if err != nil {
		c.revoke(g.ID)
		return nil, c.lockRefused(cluster, "session", err)
	}
	pfx := LockPrefix + cluster
	mu := concurrency.NewMutex(sess, pfx)
	if err := mu.Lock(ctx); err != nil {
		holder := c.lockHolder(pfx + "/")
		c.revoke(g.ID)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: cluster %s is held by %s: %w", ErrLockTimeout, cluster, holder, err)
		}
		return nil, c.lockRefused(cluster, "taking the mutex", err)
	}
	l := &Lock{cluster: cluster, cli: c.cli, mu: mu, lease: g.ID, ttl: time.Duration(secs) * time.Second,
		timeout: c.o.endpointTimeout, stop: make(chan struct{}), done: make(chan struct{})}
	go l.keepAlive()
	// Name ourselves in the key, only if it is still ours.
	if _, err := c.cli.Txn(ctx).If(mu.IsOwner()).
		Then(clientv3.OpPut(mu.Key(), c.o.holder, clientv3.WithLease(g.ID))).Commit(); err != nil {
		l.Close()
		return nil, fmt.Errorf("etcd: lock %s: naming the holder: %w", cluster, err)
	}
	return l, nil
}

// IsNoSpace reports whether err is etcd's NOSPACE refusal ("database
// space exceeded"): the cluster takes no writes and grants no lease.
func IsNoSpace(err error) bool {
	return errors.Is(err, rpctypes.ErrNoSpace) || isEtcdErr(err, rpctypes.ErrGRPCNoSpace)
}

// lockRefused explains a failed lock request. An error etcd returned is
// ErrLockRefused with etcd's reason in plain words: under NOSPACE, which
// members raised the alarm and that the lock needs a lease (a write). Any
// other error (the cluster did not answer) is returned as it is.
func (c *Client) lockRefused(cluster, doing string, err error) error {
	if _, ok := rpctypes.Error(err).(rpctypes.EtcdError); !ok {
		return fmt.Errorf("etcd: lock %s: %s: %w", cluster, doing, err)
	}
	why := rpctypes.ErrorDesc(err)
	if IsNoSpace(err) {
		why = fmt.Sprintf("database space exceeded (%s); the in-cluster lock needs a lease, and etcd grants none while the alarm is raised", c.alarmsText(etcdserverpb.AlarmType_NOSPACE))
	}
	return fmt.Errorf("%w: cluster %s refuses writes: %s (%s: %w)", ErrLockRefused, cluster, why, doing, err)
}

// alarmsText names the members with an alarm of type t raised, e.g.
// "NOSPACE alarm on m1 (8e9e05c52164694d)", for an error message. It
// uses its own short deadline.
func (c *Client) alarmsText(t etcdserverpb.AlarmType) string {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.endpointTimeout)
	defer cancel()
	resp, err := c.cli.AlarmList(ctx)
	if err != nil {
		return fmt.Sprintf("%s alarm; listing alarms failed: %v", t, err)
	}
	ms, _, _ := c.Members(ctx)
	var on []string
	for _, a := range resp.Alarms {
		if a.Alarm != t {
			continue
		}
		name := "member " + hexID(a.MemberID)
		if m, ok := findMember(ms, a.MemberID); ok {
			name = m.String()
		}
		on = append(on, name)
	}
	if len(on) == 0 {
		return fmt.Sprintf("no %s alarm is listed any more", t)
	}
	return fmt.Sprintf("%s alarm on %s", t, strings.Join(on, ", "))
}

// keepAlive renews the lease every third of its TTL until stopped. A lease
// that etcd no longer knows is recorded as lost; other errors are retried
// at the next tick (Check then finds out whether the lease survived).
func (l *Lock) keepAlive() {
	defer close(l.done)
	every := l.ttl / 3
	if every < 200*time.Millisecond {
		every = 200 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		_, err := l.cli.KeepAliveOnce(ctx, l.lease)
		cancel()
		if err != nil && (errors.Is(err, rpctypes.ErrLeaseNotFound) || isEtcdErr(err, rpctypes.ErrGRPCLeaseNotFound)) {
			l.lostMu.Lock()
			l.lostErr = fmt.Errorf("%w: cluster %s: lease %x expired or was revoked", ErrLockLost, l.cluster, l.lease)
			l.lostMu.Unlock()
			return
		}
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
	}
}

// LockHolder describes who holds the in-cluster apply lock of cluster,
// or returns "" when nobody does. It only reads, so it works under
// NOSPACE: an apply that took the lock before the alarm keeps its lease
// (renewals are allowed), and another must not take host locks past it.
func (c *Client) LockHolder(ctx context.Context, cluster string) (string, error) {
	pfx := LockPrefix + cluster + "/"
	resp, err := c.cli.Get(ctx, pfx, clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("etcd: reading the lock of %s: %w", cluster, err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return c.lockHolder(pfx), nil
}

// lockHolder describes the current holder of the lock under pfx, for an
// error message. It uses its own short deadline: the caller's has passed.
func (c *Client) lockHolder(pfx string) string {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.endpointTimeout)
	defer cancel()
	resp, err := c.cli.Get(ctx, pfx, clientv3.WithFirstCreate()...)
	if err != nil {
		return fmt.Sprintf("an unknown holder (%v)", err)
	}
	if len(resp.Kvs) == 0 {
		return "nobody any more"
	}
	kv := resp.Kvs[0]
	who := string(kv.Value)
	if who == "" {
		who = "an unnamed holder"
	}
	return fmt.Sprintf("%s (key %s, lease %x)", who, kv.Key, kv.Lease)
}

func (c *Client) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.endpointTimeout)
	defer cancel()
	_, _ = c.cli.Revoke(ctx, id)
}

// Key is the lock's key in etcd.
func (l *Lock) Key() string { return l.mu.Key() }

// Lease is the lock's lease ID.
func (l *Lock) Lease() clientv3.LeaseID { return l.lease }

// Check verifies the lock is still held: the session's keepalive is
// running, the lease has time to live, and the mutex key still exists
// with our lease and creation revision. Errors: ErrLockLost saying which.
func (l *Lock) Check(ctx context.Context) error {
	l.lostMu.Lock()
	lost := l.lostErr
	l.lostMu.Unlock()
	if lost != nil {
		return lost
	}
	var ttl *clientv3.LeaseTimeToLiveResponse
	err := askAgainIfGone(ctx, func() (err error) {
		ttl, err = l.cli.TimeToLive(ctx, l.lease)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: cluster %s: lease %x: %w", ErrLockLost, l.cluster, l.lease, err)
	}
	if ttl.TTL <= 0 {
		return fmt.Errorf("%w: cluster %s: lease %x has expired or was revoked", ErrLockLost, l.cluster, l.lease)
	}
	var resp *clientv3.TxnResponse
	err = askAgainIfGone(ctx, func() (err error) {
		resp, err = l.cli.Txn(ctx).If(l.mu.IsOwner()).Then(clientv3.OpGet(l.mu.Key())).Commit()
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: cluster %s: reading %s: %w", ErrLockLost, l.cluster, l.mu.Key(), err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: cluster %s: key %s is gone or was recreated", ErrLockLost, l.cluster, l.mu.Key())
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) != 1 || clientv3.LeaseID(kvs[0].Lease) != l.lease {
		return fmt.Errorf("%w: cluster %s: key %s is no longer bound to lease %x", ErrLockLost, l.cluster, l.mu.Key(), l.lease)
	}
	return nil
}

// askAgainIfGone runs read, asking again (up to 3 times in all, 100 ms
// apart) while it fails with Unavailable: the member it asked went away
// (killed mid-apply, say) and the client then picks another. The client
// does not retry a Txn by itself, and one dead member is not a lost lock.
func askAgainIfGone(ctx context.Context, read func() error) error {
	var err error
	for try := 0; try < 3; try++ {
		if err = read(); status.Code(err) != codes.Unavailable {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

// Unlock deletes the lock key (if it is still ours) and revokes the lease.
func (l *Lock) Unlock(ctx context.Context) error {
	_, uerr := l.cli.Txn(ctx).If(l.mu.IsOwner()).Then(clientv3.OpDelete(l.mu.Key())).Commit()
	cerr := l.Close()
	if err := errors.Join(uerr, cerr); err != nil {
		return fmt.Errorf("etcd: unlock %s: %w", l.cluster, err)
	}
	return nil
}

// Close stops the renewals and revokes the lease, which deletes the lock
// key with it. It is safe to call more than once.
func (l *Lock) Close() error {
	l.lostMu.Lock()
	if l.closed {
		l.lostMu.Unlock()
		return nil
	}
	l.closed = true
	l.lostMu.Unlock()
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	_, err := l.cli.Revoke(ctx, l.lease)
	if err != nil && (errors.Is(err, rpctypes.ErrLeaseNotFound) || isEtcdErr(err, rpctypes.ErrGRPCLeaseNotFound)) {
		return nil // already revoked or expired
	}
	return err
}
