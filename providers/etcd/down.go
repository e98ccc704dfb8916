package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Down remembers the client endpoints whose status probe failed, for as
// long as one apply runs: the clients that share it (WithDown: the
// re-plan's and the stale check's observations, and apply's own client)
// then do not wait on a dead member's endpoint again where its answer is
// not needed (who leads, where to take the snapshot from, whom to hand
// leadership to), so that a member known to be dead costs one endpoint
// timeout per apply, not one per step. The health gate always asks every
// member afresh; an endpoint that answers is forgotten. Safe for
// concurrent use.
type Down struct {
	mu  sync.Mutex
	eps map[string]error
	// noQuorum: the cluster answered no linearizable read (its member
	// list came from a member's own view); observations of the same apply
	// then read that view at once and do not wait on the alarm list,
	// until a linearizable read succeeds again.
	noQuorum bool
}

// NewDown returns an empty Down.
func NewDown() *Down { return &Down{eps: map[string]error{}} }

// WithDown shares d between clients (see Down).
func WithDown(d *Down) Option { return func(o *options) { o.down = d } }

// ErrKnownDown wraps the error of an endpoint that failed earlier in the
// same apply and was not asked again.
var ErrKnownDown = errors.New("not asked again: it did not answer earlier in this apply")

// ErrKnownNoQuorum: a request that needs a quorum was not sent, since the
// cluster answered no linearizable read earlier in the same apply.
var ErrKnownNoQuorum = errors.New("the cluster answered no linearizable read earlier in this apply")

func (d *Down) known(ep string) error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.eps[ep]
}

func (d *Down) record(ep string, err error) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		delete(d.eps, ep)
	} else {
		d.eps[ep] = err
	}
}

func (d *Down) quorumLost() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.noQuorum
}

// AssumeQuorumLost starts d as if the cluster had answered no
// linearizable read: for an apply of a plan made when no member reported a
// leader (state.ClusterFingerprint.Leaderless), whose first observation
// would otherwise wait out a linearizable read's whole timeout before it
// reads a member's own view. Should the quorum be back, the statuses of
// that observation name a leader, so the plan no longer matches the
// cluster and apply refuses it as stale.
func (d *Down) AssumeQuorumLost() { d.setQuorumLost(true) }

func (d *Down) setQuorumLost(lost bool) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.noQuorum = lost
}

// status asks endpoint ep for its status, bounded by the endpoint timeout.
// A TCP connection is tried first, so that an endpoint with nothing
// listening (a killed etcd on a host that is up) fails at once instead of
// after the whole timeout, which the etcd client would spend waiting for a
// connection. With fresh false, an endpoint the shared Down knows as down
// is not asked. Failures and answers are recorded in Down, except when ctx
// itself ended.
func (c *Client) status(ctx context.Context, ep string, fresh bool) (*clientv3.StatusResponse, error) {
	if !fresh {
		if err := c.o.down.known(ep); err != nil {
			return nil, fmt.Errorf("%w (%w)", ErrKnownDown, err)
		}
	}
	pctx, cancel := c.probeCtx(ctx)
	defer cancel()
	err := dialCheck(pctx, ep)
	var resp *clientv3.StatusResponse
	if err == nil {
		resp, err = c.cli.Status(pctx, ep)
	}
	if ctx.Err() == nil {
		c.o.down.record(ep, err)
	}
	return resp, err
}

// dialCheck opens and closes a TCP connection to the host and port of
// endpoint URL ep; an endpoint that is not a URL with a host (a unix
// socket) is not checked.
func dialCheck(ctx context.Context, ep string) error {
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	return conn.Close()
}
