package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Sentinel errors. Methods wrap them with the member or endpoint concerned.
var (
	ErrNoEndpoints        = errors.New("etcd: no endpoints")
	ErrUnhealthy          = errors.New("etcd: health gate failed")
	ErrNoLeader           = errors.New("etcd: no member reports a leader")
	ErrMemberNotFound     = errors.New("etcd: member not found")
	ErrLearnerTarget      = errors.New("etcd: a learner cannot be a leadership target")
	ErrNoTransferee       = errors.New("etcd: no healthy voting member to transfer leadership to")
	ErrNotCaughtUp        = errors.New("etcd: member has not caught up with the leader")
	ErrLearnerSilent      = errors.New("etcd: the learner is published but does not answer its clients")
	ErrInconsistent       = errors.New("etcd: members' HashKV differ")
	ErrSnapshotHash       = errors.New("etcd: snapshot hash mismatch")
	ErrSnapshotNoHash     = errors.New("etcd: snapshot has no trailing sha256 (truncated or not an etcd snapshot)")
	ErrLockTimeout        = errors.New("etcd: timed out waiting for the apply lock")
	ErrLockLost           = errors.New("etcd: the apply lock was lost")
	ErrAuditKey           = errors.New("etcd: audit key outside " + AuditPrefix)
	ErrMembershipRejected = errors.New("etcd: membership change rejected")
)

// Client talks to one etcd cluster. It is safe for concurrent use.
type Client struct {
	cli  *clientv3.Client
	base clientv3.Config // for clients pinned to one endpoint
	o    options
}

type options struct {
	tls             *tls.Config
	dialTimeout     time.Duration
	endpointTimeout time.Duration
	pollInterval    time.Duration
	logger          *zap.Logger
	holder          string
	down            *Down                                     // WithDown
	onRetry         func(what string, err error)              // test hook
	onHashKV        func(member string, start bool)           // test hook: a HashKV request begins or ends
	learnerStatus   func(ctx context.Context, m Member) error // test hook: WaitLearnerCaughtUp's status probe of a published learner
	user, password  string                                    // WithAuth
}

// Option tunes New.
type Option func(*options)

// WithTLS sets the client TLS configuration (certificates, CA, server name).
func WithTLS(c *tls.Config) Option { return func(o *options) { o.tls = c } }

// WithDialTimeout bounds connection setup (default 5s).
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithEndpointTimeout bounds each single-endpoint probe: status, the gate's
// linearizable read, HashKV (default 2s). An endpoint that does not answer
// within it is recorded as failing, it does not stop the caller.
func WithEndpointTimeout(d time.Duration) Option {
	return func(o *options) { o.endpointTimeout = d }
}

// WithPollInterval sets how often waits re-check (default 200ms).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// WithLogger sets the clientv3 logger (default zap.NewNop()).
func WithLogger(l *zap.Logger) Option { return func(o *options) { o.logger = l } }

// WithLockHolder sets the text stored in the lock key to name its holder
// (default "etcdform <hostname> pid <pid>").
func WithLockHolder(s string) Option { return func(o *options) { o.holder = s } }

// New connects to the cluster through endpoints (client URLs). The
// connection is lazy: New fails only for a bad configuration, and an
// unreachable cluster shows in Observe.
func New(endpoints []string, opts ...Option) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, ErrNoEndpoints
	}
	host, _ := os.Hostname()
	o := options{
		dialTimeout:     5 * time.Second,
		endpointTimeout: 2 * time.Second,
		pollInterval:    200 * time.Millisecond,
		logger:          zap.NewNop(),
		holder:          fmt.Sprintf("etcdform %s pid %d", host, os.Getpid()),
	}
	for _, opt := range opts {
		opt(&o)
	}
	base := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: o.dialTimeout,
		TLS:         o.tls,
		Logger:      o.logger,
		// Keepalive lets the client notice a dead connection quickly.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		Username:             o.user,
		Password:             o.password,
	}
	cli, err := clientv3.New(base)
	if err != nil {
		return nil, fmt.Errorf("etcd: connecting to %s: %w", strings.Join(endpoints, ","), err)
	}
	return &Client{cli: cli, base: base, o: o}, nil
}

// Close closes the connections.
func (c *Client) Close() error { return c.cli.Close() }

// Raw returns the underlying clientv3 client, for tests and tools.
func (c *Client) Raw() *clientv3.Client { return c.cli }

// pinned returns a client whose every request goes to endpoint. The
// caller closes it.
func (c *Client) pinned(endpoint string) (*clientv3.Client, error) {
	cfg := c.base
	cfg.Endpoints = []string{endpoint}
	if cfg.Username != "" {
		// With credentials the client authenticates before it returns:
		// bound that like any other single-endpoint probe.
		cfg.DialTimeout = c.o.endpointTimeout
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: connecting to %s: %w", endpoint, err)
	}
	return cli, nil
}

// probeCtx bounds one single-endpoint probe.
func (c *Client) probeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.o.endpointTimeout)
}

// isEtcdErr reports whether err is one of the given etcd server errors, in
// either their gRPC or their client form.
func isEtcdErr(err error, targets ...error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, t := range targets {
		if strings.Contains(msg, rpctypes.ErrorDesc(t)) {
			return true
		}
	}
	return false
}

// wait blocks for d or until ctx ends, whichever is first; it returns
// ctx's error in the latter case. It paces polling loops, never ordering.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func hexID(id uint64) string { return fmt.Sprintf("%x", id) }
